{#- Every rule's contribution to every contact as of the run's logical date, one row per contact
    and rule: profile tiers, engagement per interaction type (after caps, decayed to this date from
    the one its points were computed as of) and negative points (under the component they apply
    to), with points rounded to cents and rows of no points left out. Contacts of any first-seen
    date: contact_score_reasons shows these rows for the contacts first seen by the date, and
    contact_scores adds them up for the same contacts, so a score is the sum of its reasons by
    construction. (contact_scores read the view before; its join with the contacts was redone for
    every one of 6.3 M rows, and the scores' own join keeps the same contacts: at L, one process,
    13.3 and 14.2 s → 10.7 and 11.5 s, the same rows.) Each row's points also in hundredths
    (bigint), which contact_scores adds up: exact, and cheaper to add than numeric.
    `shown_only=false` keeps the engagement rows that round to 0.00 (contact_scores: they add
    nothing, and leaving them in spares computing each row's rounding twice). -#}
{% macro score_reason_rows(shown_only=true) -%}
    select
        profile.contact_id,
        'profile' as component,
        'profile' as rule_kind,
        profile.rule,
        cast(profile.points as numeric(10, 2)) as points,
        cast(cast(profile.points as numeric(10, 2)) * 100 as bigint) as hundredths,
        cast(null as integer) as interactions,
        profile.description
    from {{ ref('int_contact_profile_points') }} as profile
    where profile.points <> 0
    union all
    -- (each branch filters its own rows: a filter on the union's points was pushed into this
    -- branch as a second rounding of the decayed points per row)
    select
        engagement.contact_id,
        'engagement' as component,
        'engagement' as rule_kind,
        engagement.rule,
        cast(engagement.hundredths / 100.0 as numeric(10, 2)) as points,
        engagement.hundredths,
        engagement.interactions,
        engagement.description
    from (
        select
            kept.contact_id,
            kept.rule,
            kept.interactions,
            kept.description,
            -- computed as of anchored_at (a day the contact's interactions last changed): decayed since
            {{ hundredths_of(engagement_points_decayed('kept')) }} as hundredths
        from {{ ref('int_contact_engagement_points') }} as kept
    ) as engagement
    {%- if shown_only %}
    where engagement.hundredths <> 0
    {%- endif %}
    union all
    select
        negative.contact_id,
        negative.applies_to as component,
        'negative' as rule_kind,
        negative.rule,
        cast(negative.points as numeric(10, 2)) as points,
        cast(cast(negative.points as numeric(10, 2)) * 100 as bigint) as hundredths,
        negative.interactions,
        negative.description
    from {{ ref('int_contact_negative_points') }} as negative
    where negative.points <> 0
{%- endmacro %}
