{#- Engagement (what they do), as of the run's logical date: every inbound interaction of the
    lookback (vars.scoring.engagement_lookback_days) earns its type's points (seed
    score_engagement_rules), capped per period, and then weighted by recency:
    points × 0.5 ^ (age in days / half_life_days). One row per contact and rule.

    Cap periods are calendar periods: cap_period_days counted from Monday 2001-01-01 (UTC), so 1 is
    a day, 7 a week from Monday to Sunday, 30 a run of 30 days. Within one period the most recent
    interactions count until cap_points is reached.

    Per contact incremental (macros/contact_changes.sql): with calendar periods, what a contact's
    interactions count for changes only when interactions come, change or leave the lookback;
    otherwise its points only decay, by 0.5 ^ (days since anchored_at / half_life_days), which
    contact_score_reasons applies to points_unrounded. A run rebuilds the contacts of
    window_rebuild(engagement_window()) (macros/rebuild_sets.sql); each row says which date it was
    computed as of (anchored_at). -#}
{%- set settings = engagement_window()["settings"] -%}
{#- (contact_id, rule) is the key of contact_score_reasons' engagement rows (a view of it): one
    row per contact and interaction type (the group by below). No unique index for it: an
    incremental run deletes and inserts rows of the same keys in one transaction, and a unique
    index then visits the deleted row of every key inserted again (3-5 s a day at L). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{"columns": ["contact_id"]}],
        pre_hook="{{ rebuild_set_pre_hook(window_rebuild(engagement_window())) }}",
        post_hook="{{ window_rebuild_post_hook(engagement_window()) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

interactions as (
    {{ window_interactions(engagement_window(), ['interaction_key', 'interaction_type', 'occurred_at']) }}
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
        -- calendar periods: whole periods since settings.cap_periods_from
        {%- set periods_from = "cast('" ~ settings["cap_periods_from"] ~ "' as timestamptz)" %}
        floor(
            {{ days_between(periods_from, "interactions.occurred_at") }} / rules.cap_period_days
        ) as cap_period
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
),

summed as (
    select
        contact_id,
        interaction_type as rule,
        max(description) as description,
        max(half_life_days) as half_life_days,
        cast(count(*) as integer) as interactions,
        sum(counted_points) as points_before_decay,
        sum(counted_points * power(0.5, age_days / half_life_days)) as points_unrounded
    from capped
    group by contact_id, interaction_type
)

select
    contact_id,
    rule,
    description,
    interactions,
    points_before_decay,
    cast(points_unrounded as numeric(10, 2)) as points,
    cast(points_unrounded as double precision) as points_unrounded,
    half_life_days,
    {{ as_of() }} as anchored_at
from summed
