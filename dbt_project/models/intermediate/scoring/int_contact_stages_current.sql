{#- Each scored contact's lead stage as of the run's logical date: the highest stage of seed
    lead_stage_definitions (ordered, at most 7) whose criteria it meets — a minimum lead score and, when the
    stage lists them, one of its grades and engagement levels ('|'-separated). -#}
{#- unique contact_id by an index, not a test: built whole, the table pays for an index build where
    the unique test read it again (1.7-2.0 s a day at L, on the marts' longest path, between it and
    the stage history) -#}
{{
    config(
        indexes=[{"columns": ["contact_id"], "unique": true}],
        pre_hook="{{ cheap_parallel_gather() }}",
    )
}}

with

scores as (
    select * from {{ ref('contact_scores') }}
),

stages as (
    select * from {{ ref('lead_stage_definitions') }}
)

select distinct on (scores.contact_id)
    scores.contact_id,
    stages.stage,
    stages.stage_order
from scores
inner join stages
    on
        scores.lead_score >= stages.min_lead_score
        and (stages.grades is null or scores.profile_grade = any(string_to_array(stages.grades, '|')))
        and (
            stages.engagement_levels is null
            or cast(scores.engagement_level as text) = any(string_to_array(stages.engagement_levels, '|'))
        )
order by scores.contact_id asc, stages.stage_order desc
