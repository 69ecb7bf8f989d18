{#- Scores of every golden contact as of the run's logical date (Eloqua-style rating, SAP-style
    relative engagement):
    - profile score = its profile points (+ negative points that apply to the profile), 0..max_score;
    - engagement score = its decayed, capped engagement points (+ inactivity), 0..max_score;
    - lead score = the weighted sum (seed score_weights) + negative points that apply to the lead;
    - grade A–D from the profile score, engagement level 1–4 from the engagement score (seed
      score_bands: the highest band whose min_score is reached), rating = grade || level (A1 hot … D4 cold);
    - engagement percentile among the contacts of the same marketing area (0 = least, 100 = most).
    Every point is a row of contact_score_reasons ("why is this lead hot" explains the whole
    score). -#}
with

contacts as (
    select * from {{ ref('dim_contacts') }}
    where first_seen_at <= {{ as_of() }}
),

-- the rows contact_score_reasons shows, from the same macro, so a score adds up its reasons by
-- construction ("why is this lead hot" explains the whole score; engagement rows that round to
-- 0.00, which the view leaves out, are kept here: they add nothing); the left join of the contacts
-- below keeps the contacts the view shows. (A copy of the rows here needed a singular test adding
-- the view up again: 16 s of a day's dbt thread time at L; reading the view joined its contacts
-- once more, for each of 6.3 M rows.)
reasons as (
    {{ score_reason_rows(shown_only=false) }}
),

weights as (
    select
        max(weight) filter (where component = 'profile') as profile_weight,
        max(weight) filter (where component = 'engagement') as engagement_weight
    from {{ ref('score_weights') }}
),

-- each dimension's bands and their min_scores in ascending order, so a score's band is an array
-- lookup, width_bucket(score, min_scores) (the last min_score it reaches; 0, none: null). A range
-- join probed the bands once per contact and dimension (2 s of 9 at 1 M contacts), a correlated
-- "highest band reached" subquery four times (3 s more).
bands as (
    select
        array_agg(min_score order by min_score) filter (where dimension = 'grade') as grade_from,
        array_agg(band order by min_score) filter (where dimension = 'grade') as grades,
        array_agg(min_score order by min_score) filter (where dimension = 'level') as level_from,
        array_agg(band order by min_score) filter (where dimension = 'level') as levels
    from {{ ref('score_bands') }}
),

-- summed in hundredths as bigints, exact since every reason's points are numeric(10, 2): a
-- numeric sum's state is large and slow to add to (1 M contacts, 6.3 M reasons: the aggregate
-- spilled 60 MB to disk; the select 10.6 s → 9.8 s)
summed as (
    select
        contact_id,
        sum(hundredths) filter (where component = 'profile') / 100.0 as profile_points,
        sum(hundredths) filter (where component = 'engagement') / 100.0 as engagement_points,
        sum(hundredths) filter (where component = 'lead') / 100.0 as lead_points
    from reasons
    group by contact_id
),

points as (
    select
        contacts.contact_id,
        contacts.marketing_area,
        coalesce(summed.profile_points, 0) as profile_points,
        coalesce(summed.engagement_points, 0) as engagement_points,
        coalesce(summed.lead_points, 0) as lead_points
    from contacts
    left join summed on contacts.contact_id = summed.contact_id
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
        bands.grades[width_bucket(combined.profile_score, bands.grade_from)] as profile_grade,
        bands.levels[width_bucket(combined.engagement_score, bands.level_from)] as engagement_level
    from combined
    cross join bands
),

-- the engagement percentile as percent_rank() computes it, (peers scoring lower) / (peers - 1) in
-- double precision (0 for a contact without peers), from the contacts counted per marketing area
-- and engagement score (34 k pairs at L): the window over every contact sorted them all
-- (945 k rows at L: 1.3 s, then 0.9 s for the window, on the run's longest path)
score_counts as (
    select
        marketing_area,
        engagement_score,
        count(*) as contacts
    from banded
    group by marketing_area, engagement_score
),

percentiles as (
    select
        marketing_area,
        engagement_score,
        case
            when peers > 1 then cast(scoring_lower as double precision) / cast(peers - 1 as double precision)
            else 0
        end as percent_rank
    from (
        select
            marketing_area,
            engagement_score,
            coalesce(
                sum(contacts) over (
                    partition by marketing_area order by engagement_score
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ) as scoring_lower,
            sum(contacts) over (partition by marketing_area) as peers
        from score_counts
    ) as counted
)

select
    banded.contact_id,
    cast(banded.profile_score as numeric(6, 2)) as profile_score,
    banded.profile_grade,
    cast(banded.engagement_score as numeric(6, 2)) as engagement_score,
    cast(banded.engagement_level as integer) as engagement_level,
    banded.profile_grade || banded.engagement_level as rating,
    cast(banded.lead_score as numeric(6, 2)) as lead_score,
    cast(100 * percentiles.percent_rank as numeric(5, 2)) as engagement_percentile,
    banded.marketing_area,
    {{ as_of() }} as scored_at
from banded
inner join percentiles
    on
        banded.engagement_score = percentiles.engagement_score
        and banded.marketing_area is not distinct from percentiles.marketing_area
