{#- Which origins are one person: the connected components of the origin graph (transitive: A–B
    and B–C make A, B and C one), computed in the database by the function of the macro
    create_connected_components_function. An origin without links is a component of its own.

    A contact holds one value of a one-per-contact key (two CRM ids are two people). A key joining
    two such values directly is blocked already (int_identity_keys_blocked); when they meet
    through a chain — X's email on a badge scan that also carries Y's phone — the origins in the
    middle that hold no such key of their own are cut loose and the component is clustered again,
    so X and Y stay apart.

    Incremental (macros/identity_changes.sql): a build clusters again the region the changes
    reach: the origins whose edges int_identity_edges redid, and every origin of the components
    they were in. No edge leaves that region (an edge that did not change joins two origins of one
    old component), so its components are what clustering the whole graph gives. Each row keeps
    the number of the build that wrote it (cluster_build, a sequence; null in rows from before the
    column), so the id ledger redoes only the components rewritten since its own last build. -#}
-- (read on incremental builds only: macros/identity_changes.sql)
-- depends_on: {{ ref('int_identity_key_values') }}
{#- (with the fuzzy rule on, edges anywhere may change: everything, as int_identity_edges does) -#}
{%- set everything = identity_builds_everything(always=fuzzy_match_enabled()) %}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="node_id",
        on_schema_change="append_new_columns",
        indexes=[{"columns": ["node_id"], "unique": true}, {"columns": ["component"]}],
        pre_hook="{{ identity_scope_pre_hook(always=fuzzy_match_enabled(), scopes=['reached_nodes']) }}",
        post_hook=[
            "{{ identity_post_hook('false', always=fuzzy_match_enabled()) }}",
            "{{ ensure_unique_index(['origin_key'], deferred=true) }}",
            "{{ ensure_index('cluster_build', '(cluster_build)') }}",
        ],
    )
}}
with

{%- if not everything %}

    reached as (
        select reached_nodes.node_id from {{ identity_scope('reached_nodes') }} as reached_nodes
    ),

    region as ( -- noqa: ST03
        select reached.node_id from reached
        union
        select clustered.node_id
        from {{ this }} as clustered
        where clustered.component in (
            select was.component
            from {{ this }} as was
            where was.node_id in (select reached.node_id from reached)
        )
    ),

{%- endif %}

origins as (
    select * from {{ ref('int_identity_origins') }}
    {%- if not everything %}
        where node_id in (select region.node_id from region)
    {%- endif %}
),

edges as (
    select * from {{ ref('int_identity_edges') }}
    {%- if not everything %}
        where source_node_id in (select region.node_id from region)
    {%- endif %}
),

keys as (
    select * from {{ ref('int_identity_keys') }}
    {%- if not everything %}
        where node_id in (select region.node_id from region)
    {%- endif %}
),

edge_arrays as (
    -- one aggregate, one order: sources[i] and targets[i] are the two ends of one edge
    select
        coalesce(array_agg(source_node_id order by source_node_id, target_node_id), '{}') as sources,
        coalesce(array_agg(target_node_id order by source_node_id, target_node_id), '{}') as targets
    from edges
),

first_pass as (
    select
        cc.node,
        cc.component
    from edge_arrays
    cross join
        lateral intermediate.leadflow_connected_components_v1(edge_arrays.sources, edge_arrays.targets) as cc
),

single_values as (
    select
        keys.node_id,
        keys.key_type,
        keys.key_value
    from keys
    where keys.one_per_contact
),

conflicting_components as (
    select first_pass.component
    from first_pass
    inner join single_values on first_pass.node = single_values.node_id
    group by first_pass.component, single_values.key_type
    having count(distinct single_values.key_value) > 1
),

cut_loose as (
    -- origins of a conflicting component without a one-per-contact key of their own
    select first_pass.node
    from first_pass
    inner join conflicting_components on first_pass.component = conflicting_components.component
    where not exists (
        select 1 from single_values
        where single_values.node_id = first_pass.node
    )
),

second_edge_arrays as (
    select
        coalesce(array_agg(edges.source_node_id order by edges.source_node_id, edges.target_node_id), '{}')
            as sources,
        coalesce(array_agg(edges.target_node_id order by edges.source_node_id, edges.target_node_id), '{}')
            as targets
    from edges
    inner join first_pass on edges.source_node_id = first_pass.node
    inner join conflicting_components on first_pass.component = conflicting_components.component
    where
        -- not exists, not "not in": a not-in list larger than work_mem is searched once per row
        not exists (
            select from cut_loose
            where cut_loose.node = edges.source_node_id
        )
        and not exists (
            select from cut_loose
            where cut_loose.node = edges.target_node_id
        )
),

second_pass as (
    select
        cc.node,
        cc.component
    from second_edge_arrays
    cross join lateral intermediate.leadflow_connected_components_v1(
        second_edge_arrays.sources, second_edge_arrays.targets
    ) as cc
),

components as (
    select
        first_pass.node,
        case
            when conflicting_components.component is null then first_pass.component
            else coalesce(second_pass.component, first_pass.node)
        end as component
    from first_pass
    left join conflicting_components on first_pass.component = conflicting_components.component
    left join second_pass on first_pass.node = second_pass.node
)

select
    origins.node_id,
    origins.origin_key,
    origins.source_system,
    origins.source_record_id,
    origins.origin_type,
    origins.first_seen_at,
    coalesce(components.component, origins.node_id) as component,
    -- this build's number: the id ledger reads the rows rewritten since its last build
    (select nextval('{{ cluster_builds_sequence() }}')) as cluster_build
from origins
left join components on origins.node_id = components.node
