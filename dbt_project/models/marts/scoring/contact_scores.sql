{#- Scores of every golden contact as of the run's logical date (Eloqua-style rating, SAP-style
    relative engagement):
    - profile score = its profile points (+ negative points that apply to the profile), 0..max_score;
    - engagement score = its decayed, capped engagement points (+ inactivity), 0..max_score;
    - lead score = the weighted sum (seed score_weights) + negative points that apply to the lead;
    - grade A–D from the profile score, engagement level 1–4 from the engagement score (seed
      score_bands: the highest band whose min_score is reached), rating = grade || level (A1 hot … D4 cold);
    - engagement percentile among the contacts of the same marketing area (0 = least, 100 = most). -#}
with

contacts as (
    select * from {{ ref('dim_contacts') }}
    where first_seen_at <= {{ as_of() }}
),

reasons as (
    select * from {{ ref('contact_score_reasons') }}
),

weights as (
    select
        max(weight) filter (where component = 'profile') as profile_weight,
        max(weight) filter (where component = 'engagement') as engagement_weight
    from {{ ref('score_weights') }}
),

-- each band up to the next one's min_score: a join of ranges, where a correlated "highest band
-- reached" subquery ran four times per contact (each band is used twice), 3 s of 10 at 1 M contacts
bands as (
    select
        dimension,
        band,
        min_score,
        lead(min_score) over (partition by dimension order by min_score) as next_min_score
    from {{ ref('score_bands') }}
),

points as (
    select
        contacts.contact_id,
        contacts.marketing_area,
        coalesce(sum(reasons.points) filter (where reasons.component = 'profile'), 0) as profile_points,
        coalesce(sum(reasons.points) filter (where reasons.component = 'engagement'), 0) as engagement_points,
        coalesce(sum(reasons.points) filter (where reasons.component = 'lead'), 0) as lead_points
    from contacts
    left join reasons on contacts.contact_id = reasons.contact_id
    group by contacts.contact_id, contacts.marketing_area
),

scores as (
    select
        contact_id,
        marketing_area,
        least(greatest(profile_points, 0), {{ var("scoring")["max_score"] }}) as profile_score,
        least(greatest(engagement_points, 0), {{ var("scoring")["max_score"] }}) as engagement_score,
        lead_points
    from points
),

combined as (
    select
        scores.*,
        least(
            greatest(
                weights.profile_weight * scores.profile_score
                + weights.engagement_weight * scores.engagement_score
                + scores.lead_points,
                0
            ),
            {{ var("scoring")["max_score"] }}
        ) as lead_score
    from scores
    cross join weights
),

banded as (
    select
        combined.*,
        grades.band as profile_grade,
        levels.band as engagement_level
    from combined
    left join bands as grades
        on
            grades.dimension = 'grade'
            and combined.profile_score >= grades.min_score
            and (combined.profile_score < grades.next_min_score or grades.next_min_score is null)
    left join bands as levels
        on
            levels.dimension = 'level'
            and combined.engagement_score >= levels.min_score
            and (combined.engagement_score < levels.next_min_score or levels.next_min_score is null)
)

select
    contact_id,
    cast(profile_score as numeric(6, 2)) as profile_score,
    profile_grade,
    cast(engagement_score as numeric(6, 2)) as engagement_score,
    cast(engagement_level as integer) as engagement_level,
    profile_grade || engagement_level as rating,
    cast(lead_score as numeric(6, 2)) as lead_score,
    cast(
        100 * percent_rank() over (partition by marketing_area order by engagement_score) as numeric(5, 2)
    ) as engagement_percentile,
    marketing_area,
    {{ as_of() }} as scored_at
from banded
