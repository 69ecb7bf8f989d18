{#- Every contact's scores lie in 0..max_score, its grade is the band (seed score_bands) whose range
    holds its profile score, its engagement level the band whose range holds its engagement score,
    and its rating is the two together. contact_scores finds the bands by an array lookup; this
    test by each band's range, from its min_score up to the next band's. (That the scores add up
    their reasons holds by construction: contact_scores sums contact_score_reasons' rows.) -#}
with

bands as (
    select
        dimension,
        band,
        min_score,
        lead(min_score) over (partition by dimension order by min_score) as next_min_score
    from {{ ref('score_bands') }}
),

scores as (
    select * from {{ ref('contact_scores') }}
)

select
    scores.contact_id,
    scores.profile_score,
    scores.profile_grade,
    scores.engagement_score,
    scores.engagement_level,
    scores.lead_score,
    scores.rating
from scores
left join bands as grades
    on grades.dimension = 'grade' and scores.profile_grade = grades.band
left join bands as levels
    on levels.dimension = 'level' and cast(scores.engagement_level as text) = levels.band
where
    scores.profile_score not between 0 and {{ var("scoring")["max_score"] }}
    or scores.engagement_score not between 0 and {{ var("scoring")["max_score"] }}
    or scores.lead_score not between 0 and {{ var("scoring")["max_score"] }}
    or grades.band is null
    or scores.profile_score < grades.min_score
    or scores.profile_score >= grades.next_min_score
    or levels.band is null
    or scores.engagement_score < levels.min_score
    or scores.engagement_score >= levels.next_min_score
    or scores.rating is distinct from scores.profile_grade || scores.engagement_level
