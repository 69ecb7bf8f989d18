{#- An engagement row's points as of the run's logical date: int_contact_engagement_points computes
    them as of anchored_at (the day the contact's interactions last changed); they decay since by
    0.5 ^ (days / half_life_days), rounded to the cent. contact_score_reasons shows them, and
    contact_scores adds up what it shows. `row`: the engagement rows' alias. -#}
{% macro engagement_points_as_of(row) -%}
    cast({{ engagement_points_decayed(row) }} as numeric(10, 2))
{%- endmacro %}

{#- The same points unrounded (double precision) -#}
{% macro engagement_points_decayed(row) -%}
    {{ row }}.points_unrounded
    * power(0.5, {{ days_between(row ~ ".anchored_at", as_of()) }} / {{ row }}.half_life_days)
{%- endmacro %}

{#- Whether an engagement row's points as of the run's date are shown (not 0.00 once rounded). The
    rounding (a cast of a double to numeric) costs three times the decay: a value clearly away
    from 0 is shown without it, and only values within a hair of the half cent are rounded to
    decide. Exactly `engagement_points_as_of(row) <> 0`, in well under half the time (2.8 M rows
    at L, one process: 1.55 s → 0.64 s). -#}
{% macro engagement_points_shown(row) -%}
    (
        abs({{ engagement_points_decayed(row) }}) >= 0.00501
        or {{ engagement_points_as_of(row) }} <> 0
    )
{%- endmacro %}

{#- An interest's weight as of the run's logical date (double precision, unrounded):
    int_contact_interests_weighted computes it as of anchored_at and it decays since by
    0.5 ^ (days / vars.interests.half_life_days). contact_interests shows it (rounded to its
    contract's four places); dim_accounts ranks accounts' interests by it. `row`: the rows' alias. -#}
{% macro interest_weight_as_of(row) -%}
    {{ row }}.weight * power(
        0.5,
        {{ days_between(row ~ ".anchored_at", as_of()) }} / {{ var("interests")["half_life_days"] }}
    )
{%- endmacro %}

{#- The sum of `value` (double precision, at most about 1e3 in magnitude) over a group, the same
    whatever order the rows come in: each value rounded to 15 decimals and added as an integer
    (sum over bigint accumulates exactly, in 128 bits), back to double precision. -#}
{% macro exact_sum(value) -%}
    cast(sum(cast(round({{ value }} * 1e15) as bigint)) / 1e15 as double precision)
{%- endmacro %}
