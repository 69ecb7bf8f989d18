{#- The current lead stage of every scored contact as of the run's logical date, since when it is
    there, and when it first reached the stages marked as milestones (mql, sql) in seed
    lead_stage_definitions — reaching a later stage counts as having passed the milestone. -#}
{{ config(pre_hook="{{ cheap_parallel_gather() }}") }}

with

current_stages as (
    select * from {{ ref('int_contact_stages_current') }}
),

history as (
    select * from {{ ref('lead_stage_history') }}
    where entered_at <= {{ as_of() }}
),

milestone_orders as (
    select
        max(stage_order) filter (where milestone = 'mql') as mql_order,
        max(stage_order) filter (where milestone = 'sql') as sql_order
    from {{ ref('lead_stage_definitions') }}
),

latest as (
    select distinct on (contact_id)
        contact_id,
        entered_at,
        previous_stage
    from history
    order by contact_id asc, entered_at desc
),

milestones as (
    select
        history.contact_id,
        min(history.entered_at) filter (
            where history.stage_order >= milestone_orders.mql_order
        ) as first_mql_at,
        min(history.entered_at) filter (
            where history.stage_order >= milestone_orders.sql_order
        ) as first_sql_at
    from history
    cross join milestone_orders
    group by history.contact_id
)

select
    current_stages.contact_id,
    current_stages.stage,
    current_stages.stage_order,
    latest.entered_at,
    latest.previous_stage,
    milestones.first_mql_at,
    milestones.first_sql_at,
    {{ as_of() }} as staged_at
from current_stages
left join latest on current_stages.contact_id = latest.contact_id
left join milestones on current_stages.contact_id = milestones.contact_id
