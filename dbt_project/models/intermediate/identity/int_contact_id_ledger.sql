{#- The persisted contact ids: an append-only ledger of which contact each origin belongs to. A run
    appends a row only for origins whose contact changed, so the latest row per origin is the
    current mapping and the rows of a run say what merged and split. Never rebuilt from scratch
    (full_refresh=false): downstream systems hold these ids.

    How ids survive a new clustering:
    - an existing id stays with the component holding most of its origins (a split: the largest part);
    - a component holding several ids (a merge) keeps the oldest; the others are retired into it;
    - a component without any id gets a new one, derived from its earliest origin and how often
      that origin's contact changed before (deterministic, never reused). -#}
{{ config(materialized="incremental", incremental_strategy="append", full_refresh=false) }}

with

clusters as (
    select * from {{ ref('int_identity_clusters') }}
),

ledger as (
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

previous as (
    select distinct on (origin_key)
        origin_key,
        contact_id
    from ledger
    order by origin_key asc, run_sequence desc
),

id_ages as (
    select
        contact_id,
        min(run_sequence) as first_run
    from ledger
    group by contact_id
),

id_overlaps as (
    select
        clusters.component,
        previous.contact_id,
        count(*) as shared_origins
    from clusters
    inner join previous on clusters.origin_key = previous.origin_key
    group by clusters.component, previous.contact_id
),

component_sizes as (
    select
        component,
        count(*) as origins
    from clusters
    group by component
),

id_owners as (
    select distinct on (id_overlaps.contact_id)
        id_overlaps.contact_id,
        id_overlaps.component
    from id_overlaps
    inner join component_sizes on id_overlaps.component = component_sizes.component
    order by
        id_overlaps.contact_id asc,
        id_overlaps.shared_origins desc,
        component_sizes.origins desc,
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
    from clusters
    order by component asc, first_seen_at asc nulls last, origin_key asc
),

founder_changes as (
    select
        origin_key,
        count(*) as changes
    from ledger
    group by origin_key
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
        clusters.origin_key,
        clusters.source_system,
        clusters.source_record_id,
        coalesce(kept_ids.contact_id, minted_ids.contact_id) as contact_id
    from clusters
    left join kept_ids on clusters.component = kept_ids.component
    left join minted_ids on clusters.component = minted_ids.component
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
