{#- Which origins are one person: the connected components of the origin graph (transitive: A–B
    and B–C make A, B and C one), computed in the database by the function of the macro
    create_connected_components_function. An origin without links is a component of its own. -#}
with

origins as (
    select * from {{ ref('int_identity_origins') }}
),

edges as (
    select * from {{ ref('int_identity_edges') }}
),

edge_arrays as (
    -- one aggregate, one order: sources[i] and targets[i] are the two ends of one edge
    select
        coalesce(array_agg(source_node_id order by source_node_id, target_node_id), '{}') as sources,
        coalesce(array_agg(target_node_id order by source_node_id, target_node_id), '{}') as targets
    from edges
),

components as (
    select
        cc.node,
        cc.component
    from edge_arrays
    cross join
        lateral intermediate.leadflow_connected_components_v1(edge_arrays.sources, edge_arrays.targets) as cc
)

select
    origins.node_id,
    origins.origin_key,
    origins.source_system,
    origins.source_record_id,
    origins.origin_type,
    origins.first_seen_at,
    coalesce(components.component, origins.node_id) as component
from origins
left join components on origins.node_id = components.node
