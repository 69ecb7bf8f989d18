{#- The current lead stage of every scored contact as of the run's logical date, since when it is
    there, and when it first reached the stages marked as milestones (mql, sql) in seed
    lead_stage_definitions — reaching a later stage counts as having passed the milestone. -#}
{#- On an ordinary day it builds on its last build instead of reading the whole history
    (macros/stage_builds.sql): a contact keeps its entry date, previous stage and milestones
    unless it changed stage today (the history's rows of the day) or was not scored then (its
    history, looked up by contact). Otherwise (a first build, a rerun, a backfill…) nothing is
    kept and every contact's dates come from the whole history. -#}
{{
    config(
        pre_hook="{{ cheap_parallel_gather() }}",
        post_hook="{{ record_lead_stages_build() }}",
    )
}}
{%- set keep_last_build = lead_stages_keeps_last_build() %}
{%- set only_unkept = "and contact_id in (select unkept.contact_id from unkept)" if keep_last_build else "" %}

with

-- (not materialised, though read twice: parallel workers cannot read a materialised CTE, and the
-- plans that read it ran in one process)
current_stages as not materialized (
    select * from {{ ref('int_contact_stages_current') }}
),

-- what the last build gave each contact (this table, before the build), when it can be kept
kept as not materialized (
    select
        contact_id,
        entered_at,
        previous_stage,
        first_mql_at,
        first_sql_at
    {%- if keep_last_build %}
        from {{ this }}
    {%- else %}
        from (
            select
                cast(null as text) as contact_id,
                cast(null as timestamptz) as entered_at,
                cast(null as text) as previous_stage,
                cast(null as timestamptz) as first_mql_at,
                cast(null as timestamptz) as first_sql_at
        ) as nothing
        where false
    {%- endif %}
),

-- the contacts that changed stage today (nothing else was written since a kept build)
changes as (
    select
        contact_id,
        stage_order,
        previous_stage
    from {{ ref('lead_stage_history') }}
    where entered_at = {{ as_of() }}
),

-- scored now but not kept (new, or back): from the history (all of it when nothing is kept, and
-- this is not read)
unkept as (  -- noqa: ST03
    select current_stages.contact_id
    from current_stages
    left join kept on current_stages.contact_id = kept.contact_id
    where kept.contact_id is null
),

history as (
    select * from {{ ref('lead_stage_history') }}
    where entered_at <= {{ as_of() }} {{ only_unkept }}
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
),

-- a kept contact that changed stage today entered it today, and reaches a milestone it had not
-- reached before if its new stage is at or past it
kept_or_changed as (
    select
        kept.contact_id,
        case when changes.contact_id is not null then {{ as_of() }} else kept.entered_at end as entered_at,
        case
            when changes.contact_id is not null then changes.previous_stage else kept.previous_stage
        end as previous_stage,
        coalesce(
            kept.first_mql_at,
            case when changes.stage_order >= milestone_orders.mql_order then {{ as_of() }} end
        ) as first_mql_at,
        coalesce(
            kept.first_sql_at,
            case when changes.stage_order >= milestone_orders.sql_order then {{ as_of() }} end
        ) as first_sql_at
    from kept
    left join changes on kept.contact_id = changes.contact_id
    cross join milestone_orders
),

from_history as (
    select
        latest.contact_id,
        latest.entered_at,
        latest.previous_stage,
        milestones.first_mql_at,
        milestones.first_sql_at
    from latest
    left join milestones on latest.contact_id = milestones.contact_id
),

stage_dates as (
    select * from kept_or_changed
    union all
    select * from from_history
)

select
    current_stages.contact_id,
    current_stages.stage,
    current_stages.stage_order,
    stage_dates.entered_at,
    stage_dates.previous_stage,
    stage_dates.first_mql_at,
    stage_dates.first_sql_at,
    {{ as_of() }} as staged_at
from current_stages
left join stage_dates on current_stages.contact_id = stage_dates.contact_id
