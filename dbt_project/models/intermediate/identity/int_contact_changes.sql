{#- The log of contacts whose per-contact rows must be rebuilt (macros/contact_changes.sql): each
    build appends, under a new change_sequence, the contacts
    - the id ledger moved an origin to or from since the last build (added, merged, split),
    - of an origin that loads since the last build touched: a source record landed again (a new
      version, or the same one re-sent), a cookie with new interactions ('landed'); but 'visited'
      where the only such origins are cookies that hold no email and whose new interactions name
      none: those moved only the cookie's first_seen_at and updated_at, which contact_origins
      shows, while it supplies no attribute, key or address (contact_origins updates them:
      macros/origin_visits.sql); and 'seen' where such a cookie holds an email: its updated_at is
      also its address's last_seen_at, which int_contact_addresses shows and may pick the best
      address by (it rebuilds these, and logs those whose best record changed): about 10 k of
      the 20 k contacts a day at L logged as landed before, which no other model redoes now.
      The loads are those not
      seen yet that finished since the newest one seen (less vars.fct_interactions_margin_minutes,
      for loads that were committing meanwhile), as fct_interactions takes them; each load read
      gets a row of its own (contact_id null, load_id);
    and models append the contacts they rebuilt for reasons of their own (logged_by: the model;
    fct_interactions logs the contacts of the interactions it wrote, with the earliest time among
    them in changed_from, so campaign_attribution skips opportunities created before). Its first
    build logs every contact. Never rebuilt from scratch (full_refresh=false): the models'
    watermarks count its sequence. Rows every per-contact model has consumed are deleted (the
    newest build's rows stay: they hold where the next one starts), but a load's row stays while
    the load could still pass the time filter above: without it, builds minutes apart (catch-up
    runs) took the loads of a build two back for new ones and rebuilt every contact they reach. -#}
{#- (staging is read on incremental runs only) -#}
-- depends_on: {{ ref('stg_feed__contacts') }}
-- depends_on: {{ ref('stg_feed__interactions') }}
-- depends_on: {{ ref('int_identity_origins') }}
{#- (the pre-hook drops the check of the reasons before 'seen', under its old name; the post-hook's
    ensure_contract_checks adds the new one, int_contact_changes_reasons_check) -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="append",
        full_refresh=false,
        on_schema_change="append_new_columns",
        meta={"analyzes_itself": true},
        pre_hook="alter table if exists {{ this }} drop constraint if exists int_contact_changes_reason_check",
        post_hook=[
            "{{ ensure_index('sequence', '(change_sequence, contact_id)') }}",
            "{{ ensure_index('load_id', '(load_id)') }}",
            "{{ ensure_contract_checks() }}",
            "delete from {{ this }} as logged
            where
                logged.change_sequence < (select min(change_sequence) from {{ contact_change_watermarks() }})
                and not exists (
                    select from {{ source('ops', 'loads') }} as loads
                    where
                        loads.load_id = logged.load_id
                        and loads.finished_at > (select max(newest.loads_through) from {{ this }} as newest)
                        - interval '{{ var('fct_interactions_margin_minutes') }} minutes'
                )",
            "analyze {{ this }}",
        ],
    )
}}

{#- the loads not seen yet that finished since the newest one seen, less the margin (also
    compiled into a bound of raw's loaded_at: macros/loads_read.sql) -#}
{%- set new_loads -%}
    select loads.load_id
    from {{ source('ops', 'loads') }} as loads
    where
        loads.finished_at > (
            select
                coalesce(max(built.loads_through), '-infinity')
                - interval '{{ var("fct_interactions_margin_minutes") }} minutes'
            from {{ this }} as built
        )
        and not exists (
            select from {{ this }} as seen
            where seen.load_id = loads.load_id
        )
{%- endset %}
{%- set landed = landed_since(new_loads) %}

with

-- not materialized: read three times, PostgreSQL would materialise all of it (2.4 M rows at L,
-- 1 s of a day on the identity's single-threaded path), where each use reads a few rows by index
ledger as not materialized (
    select * from {{ ref('int_contact_id_ledger') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

{% if is_incremental() %}

    last_build as (
        select
            coalesce(max(change_sequence), 0) as change_sequence,
            coalesce(max(ledger_sequence), 0) as ledger_sequence
        from {{ this }}
    ),

    new_loads as (
        {{ new_loads }}
    ),

    -- (an array, not a join: the filter then reaches each raw table's scan)
    landed_origins as (
        select
            contacts.source_system || ':' || contacts.source_record_id as origin_key,
            contacts.load_id,
            false as visit_only
        from {{ ref('stg_feed__contacts') }} as contacts
        where
            contacts.load_id = any(array(select new_loads.load_id from new_loads))
            and {{ landed }}

        union all

        select
            interactions.source_system || ':cookie:' || interactions.cookie_id as origin_key,
            interactions.load_id,
            interactions.email is null as visit_only
        from {{ ref('stg_feed__interactions') }} as interactions
        where
            interactions.load_id = any(array(select new_loads.load_id from new_loads))
            and {{ landed }}
            and interactions.cookie_id is not null
    ),

    touched as (
        -- an origin's contact changed: its new contact and the one it left
        select
            ledger.contact_id,
            'identity' as reason,
            cast(null as uuid) as load_id
        from ledger
        where ledger.run_sequence > (select last_build.ledger_sequence from last_build)

        union all

        select
            ledger.previous_contact_id as contact_id,
            'identity' as reason,
            cast(null as uuid) as load_id
        from ledger
        where
            ledger.run_sequence > (select last_build.ledger_sequence from last_build)
            and ledger.previous_contact_id is not null

        union all

        -- an origin landed again: 'visited' for a cookie without an email, none in its new
        -- interactions either; 'seen' for one that holds an email (its updated_at may decide
        -- which address is best)
        select
            current_contacts.contact_id,
            case
                when not landed_origins.visit_only then 'landed'
                when origins.email is null then 'visited'
                else 'seen'
            end as reason,
            cast(null as uuid) as load_id
        from landed_origins
        inner join current_contacts on landed_origins.origin_key = current_contacts.origin_key
        left join {{ ref('int_identity_origins') }} as origins
            on landed_origins.visit_only and landed_origins.origin_key = origins.origin_key
    ),

    loads_read as (
        select load_id from new_loads
    ),

    this_build as (
        select last_build.change_sequence + 1 as change_sequence
        from last_build
    ),

{% else %}

    touched as (
        select
            contact_id,
            'first build' as reason,
            cast(null as uuid) as load_id
        from current_contacts
    ),

    loads_read as (
        select load_id from {{ source('ops', 'loads') }}
        where finished_at is not null
    ),

    this_build as (
        select 1 as change_sequence
    ),

{% endif %}

contacts as (
    -- each contact once, under its first reason (identity, landed, seen, visited)
    select distinct on (contact_id)
        contact_id,
        reason,
        load_id
    from touched
    order by contact_id asc, reason asc
),

log_rows as (
    select * from contacts
    union all
    select
        cast(null as text) as contact_id,
        'load read' as reason,
        loads_read.load_id
    from loads_read
)

select
    cast(this_build.change_sequence as bigint) as change_sequence,
    log_rows.contact_id,
    log_rows.reason,
    log_rows.load_id,
    cast('int_contact_changes' as text) as logged_by,
    (select max(ledger.run_sequence) from ledger) as ledger_sequence,
    (select max(loads.finished_at) from {{ source('ops', 'loads') }} as loads) as loads_through,
    -- (set on models' rows only: log_contacts_written_here())
    cast(null as timestamptz) as changed_from
from log_rows
cross join this_build
