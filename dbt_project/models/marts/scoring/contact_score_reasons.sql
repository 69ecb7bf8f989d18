{#- Why each score is what it is: every rule's contribution to every golden contact, as of the
    run's logical date — profile tiers, engagement per interaction type (after caps and decay, to
    this date from the one its points were computed as of) and negative points. contact_scores
    adds up exactly these rows (it reads this view). -#}
{#- A view, computed when read: the engagement points' decay is all that changes for most contacts
    from one day to the next, and as a table it rewrote all 6.3 M rows at L every day (26 s, 1.2 GB
    written). The run's date is part of the view's text, rebuilt every run. It filters its rows for
    the reader itself (macros/bi_access.sql), as BI roles read no intermediate table. Looked up per
    contact (leadflow explain, the transfer monitor, BI drill-downs) through the intermediate
    tables' indexes on contact_id. Each has one row per contact and rule, and rule names are unique
    across the three rule seeds (tests/singular/scoring_seeds_are_consistent.sql), so (contact_id,
    rule) is its key. -#}
{{
    config(
        materialized="view",
        post_hook="{{ self_filtering_view() }}",
    )
}}

with

contacts as (
    select * from {{ ref('dim_contacts') }}
    where first_seen_at <= {{ as_of() }}
),

profile as (
    select * from {{ ref('int_contact_profile_points') }}
),

engagement as (
    select * from {{ ref('int_contact_engagement_points') }}
),

negative as (
    select * from {{ ref('int_contact_negative_points') }}
),

reasons as not materialized (
    select
        contact_id,
        'profile' as component,
        'profile' as rule_kind,
        rule,
        points,
        cast(null as integer) as interactions,
        description
    from profile
    where points <> 0
    union all
    -- (each branch filters its own rows: a filter on the union's points was pushed into this
    -- branch as a second rounding of the decayed points per row; a subquery kept apart by
    -- "offset 0" rounded once but ran in one process)
    select
        engagement.contact_id,
        'engagement' as component,
        'engagement' as rule_kind,
        engagement.rule,
        -- computed as of anchored_at (a day the contact's interactions last changed): decayed since
        {{ engagement_points_as_of('engagement') }} as points,
        engagement.interactions,
        engagement.description
    from engagement
    where {{ engagement_points_shown('engagement') }}
    union all
    select
        contact_id,
        applies_to as component,
        'negative' as rule_kind,
        rule,
        points,
        interactions,
        description
    from negative
    where points <> 0
),

scored as not materialized (
    select
        reasons.contact_id,
        reasons.component,
        reasons.rule_kind,
        reasons.rule,
        cast(reasons.points as numeric(10, 2)) as points,
        reasons.interactions,
        reasons.description,
        {{ as_of() }} as scored_at
    from reasons
    inner join contacts on reasons.contact_id = contacts.contact_id
)

{{ rows_the_reader_sees('scored', ref('dim_contacts')) }}
