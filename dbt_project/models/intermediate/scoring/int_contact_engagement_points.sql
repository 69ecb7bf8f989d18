{#- Engagement (what they do), as of the run's logical date: every inbound interaction of the
    lookback (vars.scoring.engagement_lookback_days) earns its type's points (seed
    score_engagement_rules), capped per period, and then weighted by recency:
    points × 0.5 ^ (age in days / half_life_days). One row per contact and rule.

    Cap periods are calendar periods: cap_period_days counted from Monday 2001-01-01 (UTC), so 1 is
    a day, 7 a week from Monday to Sunday, 30 a run of 30 days. Within one period the most recent
    interactions count until cap_points is reached.

    The sums are kept as of a fixed day, the landmark (macros/engagement_sums.sql), in exact units
    (points_units): they do not change with the date, so an incremental run changes them by the
    cap periods that new interactions, or interactions that came into or left the year, fall in
    (each such period counted as it was and as it is), for the contacts with such news, instead of
    counting their year again; it counts again only the contacts whose interactions were re-sent or
    moved, or whose identity changed (and every contact when the rules, the settings or the
    landmark changed, or for a backfill). A full build gives the same units. Those contacts' rows
    are replaced, and of the others the rows of the rules whose sums changed (a new click rewrites
    the contact's email_click row only); the other rows stay as they were. points_unrounded is the
    sum as of the date the row was written (anchored_at), which contact_score_reasons decays to the
    run's date. -#}
{#- (contact_id, rule) is the key of contact_score_reasons' engagement rows (a view of it): one
    row per contact and interaction type (the group by below). No unique index for it: an
    incremental run deletes and inserts rows of the same keys in one transaction, and a unique
    index then visits the deleted row of every key inserted again (3-5 s a day at L). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key=["contact_id", "rule"],
        on_schema_change="fail",
        indexes=[{"columns": ["contact_id"]}],
        pre_hook=[
            "{{ engagement_sums_pre_hook(engagement_window()) }}",
            "{{ rebuild_set_pre_hook(engagement_rebuild(), key=['contact_id', 'rule']) }}",
        ],
        post_hook="{{ window_rebuild_post_hook(engagement_window()) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

-- the interactions of the contacts counted whole: every contact on a first or full build, else
-- those counted again
interactions as (
    {{ window_interactions(
        engagement_window(), ['interaction_key', 'interaction_type', 'occurred_at'],
        contacts=window_recounted() if is_incremental() else none
    ) }}
),

rules as (
    select * from {{ ref('score_engagement_rules') }}
),

aged as (
    select
        interactions.contact_id,
        interactions.interaction_key,
        interactions.interaction_type,
        interactions.occurred_at,
        rules.points,
        rules.cap_points,
        rules.half_life_days,
        {{ days_between("interactions.occurred_at", as_of()) }} as age_days,
        -- calendar periods: whole periods since settings.cap_periods_from
        {{ cap_period_of("interactions.occurred_at", "rules.cap_period_days") }} as cap_period
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
        {{ capped_points("running") }} as counted_points
    from running
),

counted as (
    select
        contact_id,
        interaction_type as rule,
        count(*) as interactions,
        sum(counted_points) as points_before_decay,
        -- units are whole numbers: summed exactly, in any order
        sum({{ engagement_units("counted_points", "occurred_at", "half_life_days") }}) as points_units
    from capped
    group by contact_id, interaction_type
),

{% if is_incremental() %}
    -- the sums so far of the (contact, rule) rows that change, and the change (a rule with no
    -- interaction left goes)
    summed as (
        select
            contact_id,
            rule,
            sum(interactions) as interactions,
            sum(points_before_decay) as points_before_decay,
            sum(points_units) as points_units
        from (
            select * from counted
            union all
            select
                this.contact_id,
                this.rule,
                this.interactions,
                this.points_before_decay,
                this.points_units
            from {{ this }} as this
            inner join {{ engagement_changes() }} as changes
                on this.contact_id = changes.contact_id and this.rule = changes.rule
            union all
            select
                changes.contact_id,
                changes.rule,
                changes.interactions,
                changes.points_before_decay,
                changes.points_units
            from {{ engagement_changes() }} as changes
        ) as sums
        group by contact_id, rule
    ),
{% else %}
    summed as (
        select * from counted
    ),
{% endif %}

decayed as (
    select
        summed.contact_id,
        summed.rule,
        rules.description,
        summed.interactions,
        summed.points_before_decay,
        {{ engagement_points_of_units("summed.points_units", "rules.half_life_days") }} as points_unrounded,
        rules.half_life_days,
        summed.points_units
    from summed
    inner join rules on summed.rule = rules.interaction_type
    where summed.interactions > 0
)

select
    contact_id,
    rule,
    description,
    cast(interactions as integer) as interactions,
    points_before_decay,
    cast(points_unrounded as numeric(10, 2)) as points,
    cast(points_unrounded as double precision) as points_unrounded,
    half_life_days,
    {{ as_of() }} as anchored_at,
    points_units
from decayed
