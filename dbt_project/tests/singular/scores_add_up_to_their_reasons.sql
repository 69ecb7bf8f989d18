{#- A contact's scores are its reasons added up, clamped to 0..max_score and weighted (seed
    score_weights): "why is this lead hot" must explain the whole score. -#}
with

-- materialized: added up once, by the primary key's order. Inlined, the planner ran the join in
-- parallel and every one of its three processes built the same 945 k sums (4.0-4.3 s at L in
-- three processes; 3.4 s in one)
reasons as materialized (
    select
        contact_id,
        coalesce(sum(points) filter (where component = 'profile'), 0) as profile_points,
        coalesce(sum(points) filter (where component = 'engagement'), 0) as engagement_points,
        coalesce(sum(points) filter (where component = 'lead'), 0) as lead_points
    from {{ ref('contact_score_reasons') }}
    group by contact_id
),

expected as (
    select
        scores.contact_id,
        scores.profile_score,
        scores.engagement_score,
        scores.lead_score,
        least(greatest(coalesce(reasons.profile_points, 0), 0), {{ var("scoring")["max_score"] }})
            as profile_expected,
        least(greatest(coalesce(reasons.engagement_points, 0), 0), {{ var("scoring")["max_score"] }})
            as engagement_expected,
        coalesce(reasons.lead_points, 0) as lead_points
    from {{ ref('contact_scores') }} as scores
    left join reasons on scores.contact_id = reasons.contact_id
),

weights as (
    select
        max(weight) filter (where component = 'profile') as profile_weight,
        max(weight) filter (where component = 'engagement') as engagement_weight
    from {{ ref('score_weights') }}
)

select expected.*
from expected
cross join weights
where
    expected.profile_score <> expected.profile_expected
    or expected.engagement_score <> expected.engagement_expected
    or abs(
        expected.lead_score
        - least(
            greatest(
                weights.profile_weight * expected.profile_expected
                + weights.engagement_weight * expected.engagement_expected
                + expected.lead_points,
                0
            ),
            {{ var("scoring")["max_score"] }}
        )
    ) > 0.01
