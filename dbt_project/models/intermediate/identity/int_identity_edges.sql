{#- The links between origins: every usable key joins the origins holding it (as a star onto the
    first of them, which is all connectivity needs). With vars.identity.fuzzy_match (or the
    environment variable LEADFLOW_IDENTITY_FUZZY_MATCH=true), an origin
    whose every key is blocked (it wrote from info@…) is also linked to an origin of the same
    company or email domain with a similar full name (pg_trgm), when that similarity picks out one
    name only.

    Incremental (macros/identity_changes.sql): a build redoes the edges of the origins that changed
    and of every holder of a logged key value (a value's hub, its lowest node, may have changed);
    the edges of the others are as they were. The fuzzy rule compares names across origins, so
    with it on every build builds everything. -#}
-- the fuzzy rule's inputs, declared whether it is on or not (so the DAG and the unit tests do not change):
-- depends_on: {{ ref('int_identity_origins') }}
-- depends_on: {{ ref('free_mail_domains') }}
-- (read on incremental builds only: macros/identity_changes.sql)
-- depends_on: {{ ref('int_identity_key_values') }}
{%- set identity = var("identity") %}
{%- set fuzzy_match = fuzzy_match_enabled() %}
{%- set everything = identity_builds_everything(always=fuzzy_match) %}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="source_node_id",
        on_schema_change="fail",
        indexes=[{"columns": ["source_node_id"]}],
        pre_hook="{{ identity_scope_pre_hook(always=fuzzy_match_enabled(), scopes=['reached_nodes']) }}",
        post_hook="{{ identity_post_hook(
            'source_node_id in (select node_id from ' ~ identity_scope('reached_nodes') ~ ')',
            always=fuzzy_match_enabled()
        ) }}",
    )
}}
with

{%- if everything %}

    keys as (
        select * from {{ ref('int_identity_keys') }}
        where links_origins
    ),

{%- else %}

    reached as (
        select reached_nodes.node_id from {{ identity_scope('reached_nodes') }} as reached_nodes
    ),

    -- (the key values table and its indexes, not the view: a few thousand lookups, not a scan)
    reached_values as (
        select distinct
            held.key_type,
            held.key_value
        from reached
        inner join {{ ref('int_identity_key_values') }} as held on reached.node_id = held.node_id
    ),

    keys as materialized (
        -- every holder of the values the reached nodes hold, of the key types that link origins
        -- (int_identity_keys.links_origins)
        select
            holders.node_id,
            holders.key_type,
            holders.key_value
        from reached_values
        inner join {{ ref('int_identity_key_values') }} as holders
            on reached_values.key_type = holders.key_type and reached_values.key_value = holders.key_value
        inner join {{ ref('identity_key_rules') }} as rules
            on holders.key_type = rules.key_type and rules.identifies_person and not rules.is_shareable
    ),

{%- endif %}

blocked as (
    select * from {{ ref('int_identity_keys_blocked') }}
),

usable_keys as (
    select keys.*
    from keys
    left join blocked on keys.key_type = blocked.key_type and keys.key_value = blocked.key_value
    where blocked.key_type is null
),

stars as (
    select
        node_id,
        key_type,
        min(node_id) over (partition by key_type, key_value) as hub_node_id
    from usable_keys
),

key_edges as (
    select
        node_id as source_node_id,
        hub_node_id as target_node_id,
        min(key_type) as rule
    from stars
    where
        node_id <> hub_node_id
        and {{ "true" if everything else "node_id in (select reached.node_id from reached)" }}
    group by node_id, hub_node_id
)

{%- if fuzzy_match %}
    ,

    origins as (
        select * from {{ ref('int_identity_origins') }}
        where name_key is not null
    ),

    orphans as (
    -- origins whose every identifying key is blocked (an info@ mailbox, a switchboard)
        select origins.*
        from origins
        where
            not exists (
                select 1 from usable_keys
                where usable_keys.node_id = origins.node_id
            )
            and exists (
                select 1 from keys
                where keys.node_id = origins.node_id
            )
    ),

    candidates as (
        select
            orphans.node_id as source_node_id,
            others.node_id as target_node_id,
            others.name_key,
            similarity(orphans.name_key, others.name_key) as name_similarity
        from orphans
        inner join origins as others
            on
                orphans.node_id <> others.node_id
                and (
                    orphans.company_key = others.company_key
                    or (
                        orphans.email_domain = others.email_domain
                        and orphans.email_domain not in (select domain from {{ ref('free_mail_domains') }})
                    )
                )
        where similarity(orphans.name_key, others.name_key) >= {{ identity["fuzzy_name_similarity"] }}
    ),

    best as (
        select
            source_node_id,
            max(name_similarity) as name_similarity
        from candidates
        group by source_node_id
    ),

    unambiguous as (
    -- one best-matching name only: two similar people at one company are left apart
        select candidates.source_node_id
        from candidates
        inner join best
            on
                candidates.source_node_id = best.source_node_id
                and candidates.name_similarity = best.name_similarity
        group by candidates.source_node_id
        having count(distinct candidates.name_key) = 1
    ),

    fuzzy_edges as (
        select distinct on (candidates.source_node_id)
            candidates.source_node_id,
            candidates.target_node_id,
            'fuzzy_name' as rule
        from candidates
        inner join unambiguous on candidates.source_node_id = unambiguous.source_node_id
        inner join best
            on
                candidates.source_node_id = best.source_node_id
                and candidates.name_similarity = best.name_similarity
        order by candidates.source_node_id asc, candidates.name_similarity desc, candidates.target_node_id asc
    )

    select * from key_edges
    union all
    select * from fuzzy_edges
{%- else %}

    select * from key_edges
{%- endif %}
