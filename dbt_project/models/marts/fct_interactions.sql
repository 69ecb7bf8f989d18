{#- One row per distinct interaction (a record re-sent by its source counts once, its latest
    version wins), resolved to the contact it belongs to through the first key that names exactly
    one contact: the source record it cites, the CRM id, the email, the cookie (which a form fill
    tied to a person).

    Incremental, so a daily run does work in proportion to what changed:
    - rows of the loads it has not seen that finished since the newest load it has seen
      (ops.loads.finished_at, minus a margin of vars.fct_interactions_margin_minutes for loads
      that were committing meanwhile), unless it keeps a later version of them;
    - rows whose contact may have changed: those carrying a key of an origin whose contact the id
      ledger moved (added, merged, split) since the identity build this table last saw (its
      watermark in intermediate.identity_watermarks, written by the post-hook).
    A full refresh gives the same rows. (Earlier versions indexed its keys for the second kind;
    one scan does it now, none when nothing moved, and the post-hook drops those indexes where
    they exist.) An incremental run resolves against the origins and keys its rows name only.

    Its post-hook logs the contacts of the interactions it wrote in int_contact_changes ('appended'
    where all of a contact's were new ones, else 'rebuilt'), and the
    contacts a rewritten interaction left (previous_contact_id: re-sent with another email, say),
    so dim_contacts and the scores rebuild them and campaign_attribution redoes their
    opportunities (macros/contact_changes.sql, macros/opportunity_changes.sql): those created
    after the earliest time among the interactions (previous_occurred_at: the time a re-sent
    version moved one from), as an interaction is a touch only of opportunities created after it.

    Indexed by interaction_type for the negative points' interaction rules (unsubscribes, bounces,
    spam complaints: 0.4 % of the rows), which otherwise scanned every interaction each day (at L
    2.6 GB, 4.0 s; by the index 0.14-0.45 s, for 76 MB of index built in 8 s on a full build).

    Merge joins are off for its build: the planner cannot size the latest versions (distinct on
    over staging's expressions; it guesses 40,000 rows for 11 M) and sorted them twice on disk for
    merge joins, where hash joins take 40 s less at 1 M contacts. -#}
{{
    config(
        materialized="incremental",
        unique_key="interaction_key",
        incremental_strategy="delete+insert",
        on_schema_change="append_new_columns",
        meta={"analyzes_itself": true},
        pre_hook="set local enable_mergejoin = off",
        post_hook=[
            "{{ ensure_index('key', '(interaction_key)', unique=true) }}",
            "{{ ensure_index('contact_id', '(contact_id, occurred_at)') }}",
            "{{ ensure_index('load_id', '(load_id)') }}",
            "{{ ensure_index('occurred_on', '((' ~ utc_day('occurred_at') ~ '))') }}",
            "{{ ensure_index('interaction_type', '(interaction_type)') }}",
            "{{ ensure_index('written_at', '(written_at)') }}",
            "{{ ensure_contract_checks() }}",
            "{{ log_contacts_written_here(readers=['dim_contacts', 'campaign_attribution'], columns=['contact_id', 'previous_contact_id'], changed_from='least(occurred_at, previous_occurred_at)', appended=appended_contacts()) }}",
            "{{ record_identity_watermark('run_sequence', ref('int_contact_id_ledger'), 'null') }}",
            "drop index if exists {{ this.schema }}.{{ this.name }}__crm_id",
            "drop index if exists {{ this.schema }}.{{ this.name }}__email_hash",
            "drop index if exists {{ this.schema }}.{{ this.name }}__record",
            "drop index if exists {{ this.schema }}.{{ this.name }}__cookie",
            "drop index if exists {{ this.schema }}.{{ this.name }}__occurred_at",
            "{{ analyze_if_written() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_keys') }}
-- depends_on: {{ ref('int_contact_changes') }}
with

-- not materialized (here and for the origins): read twice on an incremental run, where a
-- materialised copy of 2.4 M rows at 1 M contacts costs more than two scans
ledger as not materialized (
    select * from {{ ref('int_contact_id_ledger') }}
),

identity_build as (
    select coalesce(max(run_sequence), 0) as run_sequence from ledger
),

landed as (
    select * from {{ ref('stg_feed__interactions') }}
    {%- if is_incremental() %}
        -- the loads finished since the newest load this table has seen (minus a margin for loads
        -- that were committing while it was built)
        -- (an array, not a subquery join: the filter then reaches each raw table's scan, before
        -- staging's casts and normalisation run on every row)
        -- and not in it yet: a load commits at once, so one row of it here means all of it was
        -- seen (without this, the loads in the margin, often the whole previous day, came again)
        -- (and raw's BRIN index of loaded_at narrows the scan: macros/loads_read.sql)
        {%- set new_loads %}
            select loads.load_id
            from {{ source('ops', 'loads') }} as loads
            where
                loads.finished_at > (
                    select
                        coalesce(max(seen.finished_at), '-infinity')
                        - interval '{{ var("fct_interactions_margin_minutes") }} minutes'
                    from {{ source('ops', 'loads') }} as seen
                    where exists (
                        select from {{ this }} as this
                        where this.load_id = seen.load_id
                    )
                )
                and not exists (
                    select from {{ this }} as this
                    where this.load_id = loads.load_id
                )
        {%- endset %}
        where
            load_id = any(
                array({{ new_loads }})
            )
            and {{ landed_since(new_loads) }}
    {%- endif %}
),

latest_versions as (
    select distinct on (source_system, source_interaction_id)
        source_system || ':' || source_interaction_id as interaction_key,
        source_system,
        source_interaction_id,
        occurred_at,
        interaction_type,
        campaign_id,
        content_url,
        interests,
        marketing_area,
        source_record_id,
        crm_id,
        md5(email_key) as email_hash,
        cookie_id,
        load_id,
        loaded_at
    from landed
    order by source_system asc, source_interaction_id asc, loaded_at desc
),

origins as not materialized (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

interaction_types as (
    select * from {{ ref('interaction_types') }}
),

{% if is_incremental() %}
    keys as (
        select * from {{ ref('int_identity_keys') }}
    ),

    moved_origins as (
    -- origins the ledger moved since the identity build this table last resolved against: its
    -- watermark (the post-hook), or else its rows' newest (a table built before the watermark;
    -- that read all 11 M rows at L, 2 s a day)
        select distinct origin_key
        from ledger
        where run_sequence > coalesce(
            (
                select w.identity_build from {{ identity_watermarks() }} as w
                where w.model = '{{ this.name }}'
            ),
            (select coalesce(max(this.resolved_in_build), 0) from {{ this }} as this)
        )
    ),

    moved_keys as (
        select
            keys.key_type,
            keys.key_value
        from keys
        inner join moved_origins on keys.origin_key = moved_origins.origin_key
    ),

    moved_records as (
        select
            origins.source_system,
            origins.source_record_id
        from origins
        inner join moved_origins on origins.origin_key = moved_origins.origin_key
    ),

    to_resolve_again as (
        -- one scan with a hashed lookup per key kind: the moved keys are few, and four indexes
        -- for them cost 40 s on every full build at 1 M contacts (and upkeep on every insert)
        -- (and no scan at all when nothing moved: the first condition is checked once, first)
        select this.interaction_key
        from {{ this }} as this
        where
            exists (select from moved_origins)
            and (
                this.crm_id in (
                    select moved_keys.key_value from moved_keys
                    where moved_keys.key_type = 'crm_id'
                )
                or this.email_hash in (
                    select md5(moved_keys.key_value) from moved_keys
                    where moved_keys.key_type = 'email'
                )
                or (this.source_system, this.source_record_id) in (
                    select
                        moved_records.source_system,
                        moved_records.source_record_id
                    from moved_records
                )
                or (this.source_system, 'cookie:' || this.cookie_id) in (
                    select
                        moved_records.source_system,
                        moved_records.source_record_id
                    from moved_records
                )
            )
    ),

    interactions as (
        -- with the contact and time the row named so far, if any
        select
            latest_versions.*,
            this.contact_id as previous_contact_id,
            this.occurred_at as previous_occurred_at,
            this.interaction_key is null as is_new_in_build
        from latest_versions
        left join {{ this }} as this on latest_versions.interaction_key = this.interaction_key
        where
            -- not a version older than the one kept here (a load not seen yet because all its rows
            -- were superseded by later versions)
            this.interaction_key is null
            or this.loaded_at <= latest_versions.loaded_at
        union all
        select
            this.interaction_key,
            this.source_system,
            this.source_interaction_id,
            this.occurred_at,
            this.interaction_type,
            this.campaign_id,
            this.content_url,
            this.interests,
            this.marketing_area,
            this.source_record_id,
            this.crm_id,
            this.email_hash,
            this.cookie_id,
            this.load_id,
            this.loaded_at,
            this.contact_id as previous_contact_id,
            this.occurred_at as previous_occurred_at,
            false as is_new_in_build
        from {{ this }} as this
        inner join to_resolve_again on this.interaction_key = to_resolve_again.interaction_key
        where not exists (
            select from latest_versions
            where latest_versions.interaction_key = this.interaction_key
        )
    ),
{% else %}
    interactions as (
        select
            *,
            cast(null as text) as previous_contact_id,
            cast(null as timestamptz) as previous_occurred_at,
            -- (nothing is known of what a table rebuilt whole held before: none counts as new)
            false as is_new_in_build
        from latest_versions
    ),
{% endif %}

-- On an incremental run, only the origins and keys the interactions to resolve name: joined whole,
-- both sides of 2.4 M origins and 1.5 M keys were hashed twice for 0.1 M interactions (1 M contacts)
origin_contacts as (
    select
        origins.source_system,
        origins.source_record_id,
        current_contacts.contact_id
    {%- if is_incremental() %}
        -- looked up by key (origin_key is source_system:source_record_id), each once: the planner
        -- sizes the interactions at millions and hashed all 2.4 M origins and current contacts
        -- (0.8-2.4 s a day at L, 0.4 s by lookups); offset 0 keeps each one a lookup
        from (
            select interactions.source_system || ':' || interactions.source_record_id as origin_key
            from interactions
            union
            select interactions.source_system || ':cookie:' || interactions.cookie_id as origin_key
            from interactions
        ) as wanted
        cross join
            lateral (
                select origins.* from origins
                where origins.origin_key = wanted.origin_key
                offset 0  -- noqa: AM09
            ) as origins
        cross join
            lateral (
                select current_contacts.* from current_contacts
                where current_contacts.origin_key = origins.origin_key
                offset 0  -- noqa: AM09
            ) as current_contacts
    {%- else %}
        from origins
        inner join current_contacts on origins.origin_key = current_contacts.origin_key
    {%- endif %}
),

key_contacts as (
    -- the email side as its hash, as fct_interactions keeps it; on an incremental run only the
    -- keys its interactions name (two semi-joins, not one filter with "or": the planner sizes the
    -- interactions at all of them, and an "in" under "or" it cannot hash was searched once per key)
    select
        key_type,
        key_value,
        contact_id
    from {{ ref('int_contact_key_owners') }}
    where
        key_type = 'crm_id'
        {%- if is_incremental() %}
            and key_value in (select interactions.crm_id from interactions)
        {%- endif %}
    union all
    select
        key_type,
        md5(key_value) as key_value,
        contact_id
    from {{ ref('int_contact_key_owners') }}
    where
        key_type = 'email'
        {%- if is_incremental() %}
            and md5(key_value) in (select interactions.email_hash from interactions)
        {%- endif %}
),

resolved as (
    select
        interactions.*,
        coalesce(
            by_record.contact_id, by_crm_id.contact_id, by_email.contact_id, by_cookie.contact_id
        ) as contact_id,
        case
            when by_record.contact_id is not null then 'source_record_id'
            when by_crm_id.contact_id is not null then 'crm_id'
            when by_email.contact_id is not null then 'email'
            when by_cookie.contact_id is not null then 'cookie_id'
        end as resolved_by
    from interactions
    left join origin_contacts as by_record
        on
            interactions.source_system = by_record.source_system
            and interactions.source_record_id = by_record.source_record_id
    left join key_contacts as by_crm_id
        on by_crm_id.key_type = 'crm_id' and interactions.crm_id = by_crm_id.key_value
    left join key_contacts as by_email
        on by_email.key_type = 'email' and interactions.email_hash = by_email.key_value
    left join origin_contacts as by_cookie
        on
            interactions.source_system = by_cookie.source_system
            and 'cookie:' || interactions.cookie_id = by_cookie.source_record_id
),

final as (
    select
        -- ids
        resolved.interaction_key,
        resolved.source_system,
        resolved.source_interaction_id,
        resolved.contact_id,
        resolved.resolved_by,

        -- what, when
        resolved.occurred_at,
        resolved.interaction_type,
        case
            when interaction_types.is_inbound then 'inbound'
            when not interaction_types.is_inbound then 'outbound'
        end as direction,
        resolved.campaign_id,
        resolved.content_url,
        resolved.interests,
        resolved.marketing_area,

        -- the keys it was resolved by (the email only as a hash: no personal data here)
        resolved.source_record_id,
        resolved.crm_id,
        resolved.email_hash,
        resolved.cookie_id,

        -- lineage
        resolved.load_id,
        resolved.loaded_at,
        identity_build.run_sequence as resolved_in_build,
        -- the contact it named before this build, if another (logged with the new one)
        nullif(resolved.previous_contact_id, resolved.contact_id) as previous_contact_id,
        -- the time it named before this build, if another (logged with the contacts)
        nullif(resolved.previous_occurred_at, resolved.occurred_at) as previous_occurred_at,
        -- when this build wrote it, and whether it was new to the table then (no version or
        -- resolution of it before): int_contact_interests_weighted adds the new ones to the sums
        -- it keeps, found by this time's index, and counts the others' contacts again
        now() as written_at,
        resolved.is_new_in_build
    from resolved
    cross join identity_build
    left join interaction_types on resolved.interaction_type = interaction_types.interaction_type
)

select * from final
