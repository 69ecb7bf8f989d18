{#- The persisted contact ids: an append-only ledger of which contact each origin belongs to. A run
    appends a row only for origins whose contact changed, so the latest row per origin is the
    current mapping and the rows of a run say what merged and split. Never rebuilt from scratch
    (full_refresh=false): downstream systems hold these ids.

    How ids survive a new clustering:
    - an existing id stays with the component holding most of its origins (a split: the largest part);
    - a component holding several ids (a merge) keeps the oldest; the others are retired into it;
    - a component without any id gets a new one, derived from its earliest origin and how often
      that origin's contact changed before (deterministic, never reused).

    A component holding exactly the origins of one existing contact, no more and no fewer, keeps
    that id and appends nothing; its contact appears in no other component. So the rules above run
    on the other components only: on a daily run, the few that new or changed origins touched.

    And only the components int_identity_clusters rewrote since the ledger's last build are read
    (its rows' cluster_build after the ledger's watermark in intermediate.identity_watermarks):
    clustering rewrites every origin of a component it changes, so a component it did not rewrite
    still holds the origins it held then, which after that build were exactly one contact. Their
    origins' current contacts, those contacts' sizes, ids' ages and founders' pasts are looked up
    in the ledger by its indexes. Everything is read on a first build, without a watermark, or
    when clustering rewrote every row. -#}
{%- set consumed = ledger_consumed_cluster_build() %}
{{
    config(
        materialized="incremental",
        incremental_strategy="append",
        full_refresh=false,
        post_hook=[
            "{{ ensure_unique_index(['origin_key', 'run_sequence']) }}",
            "drop index if exists {{ this.schema }}.{{ this.name }}__origin",
            "{{ ensure_index('contact', '(contact_id)') }}",
            "{{ ensure_index('run', '(run_sequence)') }}",
            "{{ record_ledger_watermark() }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}

with

-- not materialized: the tables are read where needed (PostgreSQL materialises a CTE named more
-- than once, and a plan reading a materialised CTE runs in one process)
clusters as not materialized (
    select * from {{ ref('int_identity_clusters') }}
    {%- if consumed is not none %}
        where cluster_build > {{ consumed }}
    {%- endif %}
),

ledger as not materialized (
    {%- if is_incremental() %}
        select * from {{ this }}
    {%- else %}
        select
            cast(null as text) as origin_key,
            cast(null as text) as contact_id,
            cast(null as integer) as run_sequence
        where false
    {%- endif %}
),

this_run as (
    select coalesce(max(run_sequence), 0) + 1 as run_sequence
    from ledger
),

{%- if consumed is none %}

    previous as (
        select distinct on (origin_key)
            origin_key,
            contact_id
        from ledger
        order by origin_key asc, run_sequence desc
    ),

    previous_sizes as (
        select
            contact_id,
            count(*) as origins
        from previous
        group by contact_id
    ),

{%- else %}

    -- the current contact of the rewritten components' origins
    previous as (
        select distinct on (ledger.origin_key)
            ledger.origin_key,
            ledger.contact_id
        from ledger
        where ledger.origin_key in (select clusters.origin_key from clusters)
        order by ledger.origin_key asc, ledger.run_sequence desc
    ),

    -- how many origins those contacts hold now, wherever they are
    previous_sizes as (
        select
            held.contact_id,
            count(*) as origins
        from (
            select distinct on (ledger.origin_key)
                ledger.origin_key,
                ledger.contact_id
            from ledger
            where
                ledger.origin_key in (
                    select holders.origin_key from ledger as holders
                    where holders.contact_id in (select previous.contact_id from previous)
                )
            order by ledger.origin_key asc, ledger.run_sequence desc
        ) as held
        where held.contact_id in (select previous.contact_id from previous)
        group by held.contact_id
    ),

{%- endif %}

component_contacts as (
    select
        clusters.component,
        count(*) as origins,
        count(previous.contact_id) as known_origins,
        min(previous.contact_id) as first_contact_id,
        max(previous.contact_id) as last_contact_id
    from clusters
    left join previous on clusters.origin_key = previous.origin_key
    group by clusters.component
),

changed_components as (
    -- all but the components that are exactly one existing contact (every origin known, one id,
    -- and that id has no origin elsewhere)
    select
        component_contacts.component,
        component_contacts.origins
    from component_contacts
    left join previous_sizes on component_contacts.first_contact_id = previous_sizes.contact_id
    where
        component_contacts.first_contact_id is distinct from component_contacts.last_contact_id
        or component_contacts.known_origins < component_contacts.origins
        or previous_sizes.origins is distinct from component_contacts.origins
),

changed as (
    select clusters.*
    from clusters
    inner join changed_components on clusters.component = changed_components.component
),

id_overlaps as (
    select
        changed.component,
        previous.contact_id,
        count(*) as shared_origins
    from changed
    inner join previous on changed.origin_key = previous.origin_key
    group by changed.component, previous.contact_id
),

id_ages as (
    select
        ledger.contact_id,
        min(ledger.run_sequence) as first_run
    from ledger
    where
        exists (
            select from id_overlaps
            where id_overlaps.contact_id = ledger.contact_id
        )
    group by ledger.contact_id
),

id_owners as (
    select distinct on (id_overlaps.contact_id)
        id_overlaps.contact_id,
        id_overlaps.component
    from id_overlaps
    inner join changed_components on id_overlaps.component = changed_components.component
    order by
        id_overlaps.contact_id asc,
        id_overlaps.shared_origins desc,
        changed_components.origins desc,
        id_overlaps.component asc
),

kept_ids as (
    select distinct on (id_owners.component)
        id_owners.component,
        id_owners.contact_id
    from id_owners
    inner join id_ages on id_owners.contact_id = id_ages.contact_id
    order by id_owners.component asc, id_ages.first_run asc, id_owners.contact_id asc
),

founders as (
    select distinct on (component)
        component,
        origin_key
    from changed
    order by component asc, first_seen_at asc nulls last, origin_key asc
),

founder_changes as (
    select
        ledger.origin_key,
        count(*) as changes
    from ledger
    inner join founders on ledger.origin_key = founders.origin_key
    group by ledger.origin_key
),

minted_ids as (
    select
        founders.component,
        'ctc_'
        || left(md5(founders.origin_key || '/' || coalesce(founder_changes.changes, 0)), 16) as contact_id
    from founders
    left join founder_changes on founders.origin_key = founder_changes.origin_key
),

assigned as (
    select
        changed.origin_key,
        changed.source_system,
        changed.source_record_id,
        coalesce(kept_ids.contact_id, minted_ids.contact_id) as contact_id
    from changed
    left join kept_ids on changed.component = kept_ids.component
    left join minted_ids on changed.component = minted_ids.component
),

changes as (
    select
        -- ids
        assigned.origin_key,
        assigned.source_system,
        assigned.source_record_id,
        assigned.contact_id,
        previous.contact_id as previous_contact_id,

        -- what happened: a new origin, its contact merged into an older one, or it split off
        case
            when previous.contact_id is null then 'added'
            when previous.contact_id in (select kept_ids.contact_id from kept_ids) then 'split'
            else 'merged'
        end as change,

        -- when
        this_run.run_sequence,
        {{ as_of() }} as changed_at
    from assigned
    cross join this_run
    left join previous on assigned.origin_key = previous.origin_key
    where assigned.contact_id is distinct from previous.contact_id
)

select * from changes
