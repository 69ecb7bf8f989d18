{#- Engagement (what they do), as of the run's logical date: every inbound interaction of the
    lookback (vars.scoring.engagement_lookback_days) earns its type's points (seed
    score_engagement_rules), capped per period — within one period (cap_period_days, counted back
    from as_of) the most recent interactions count until cap_points is reached — and then weighted
    by recency: points × 0.5 ^ (age in days / half_life_days). One row per contact and rule. -#}
with

interactions as (
    select * from {{ ref('fct_interactions') }}
    where
        contact_id is not null
        and direction = 'inbound'
        and occurred_at <= {{ as_of() }}
        and occurred_at > {{ as_of() }} - interval '{{ var("scoring")["engagement_lookback_days"] }} days'
),

rules as (
    select * from {{ ref('score_engagement_rules') }}
),

aged as (
    select
        interactions.contact_id,
        interactions.interaction_key,
        interactions.interaction_type,
        rules.points,
        rules.cap_points,
        rules.half_life_days,
        rules.description,
        {{ days_between("interactions.occurred_at", as_of()) }} as age_days,
        floor({{ days_between("interactions.occurred_at", as_of()) }} / rules.cap_period_days) as cap_period
    from interactions
    inner join rules on interactions.interaction_type = rules.interaction_type
),

running as (
    select
        *,
        sum(points) over (
            partition by contact_id, interaction_type, cap_period
            order by age_days asc, interaction_key asc
            rows between unbounded preceding and current row
        ) as running_points
    from aged
),

capped as (
    select
        *,
        case
            when cap_points is null then points
            else greatest(0, least(points, cap_points - (running_points - points)))
        end as counted_points
    from running
)

select
    contact_id,
    interaction_type as rule,
    max(description) as description,
    cast(count(*) as integer) as interactions,
    sum(counted_points) as points_before_decay,
    cast(sum(counted_points * power(0.5, age_days / half_life_days)) as numeric(10, 2)) as points
from capped
group by contact_id, interaction_type
