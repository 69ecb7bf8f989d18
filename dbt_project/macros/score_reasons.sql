{#- Every rule's contribution to every contact as of the run's logical date, one row per contact
    and rule: profile tiers, engagement per interaction type (after caps, decayed to this date from
    the one its points were computed as of) and negative points (under the component they apply
    to), with points rounded to cents and rows of no points left out. Contacts of any first-seen
    date: contact_score_reasons shows these rows for the contacts first seen by the date, and
    contact_scores adds them up for the same contacts, so a score is the sum of its reasons by
    construction. (contact_scores read the view before; its join with the contacts was redone for
    every one of 6.3 M rows, and the scores' own join keeps the same contacts: at L, one process,
    13.3 and 14.2 s → 10.7 and 11.5 s, the same rows.) -#}
{% macro score_reason_rows() -%}
    select
        profile.contact_id,
        'profile' as component,
        'profile' as rule_kind,
        profile.rule,
        cast(profile.points as numeric(10, 2)) as points,
        cast(null as integer) as interactions,
        profile.description
    from {{ ref('int_contact_profile_points') }} as profile
    where profile.points <> 0
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
    from {{ ref('int_contact_engagement_points') }} as engagement
    where {{ engagement_points_shown('engagement') }}
    union all
    select
        negative.contact_id,
        negative.applies_to as component,
        'negative' as rule_kind,
        negative.rule,
        cast(negative.points as numeric(10, 2)) as points,
        negative.interactions,
        negative.description
    from {{ ref('int_contact_negative_points') }} as negative
    where negative.points <> 0
{%- endmacro %}
