{#- An engagement row's points as of the run's logical date, unrounded (double precision):
    int_contact_engagement_points computes them as of anchored_at (the day the contact's
    interactions last changed); they decay since by 0.5 ^ (days / half_life_days).
    contact_score_reasons shows them rounded to the cent (hundredths_of), and contact_scores adds
    up what it shows. `row`: the engagement rows' alias. -#}
{% macro engagement_points_decayed(row) -%}
    {{ row }}.points_unrounded
    * power(0.5, {{ days_between(row ~ ".anchored_at", as_of()) }} / {{ row }}.half_life_days)
{%- endmacro %}

{#- `value` (double precision) rounded to the cent, in hundredths (bigint): exactly
    cast(cast(value as numeric(10, 2)) * 100 as bigint), which rounds the double's 15-digit decimal
    form half away from zero, for every value that cast can hold (below 1e8). That cast costs
    three times the decay, so a value more than 1e-4 hundredths away from a half cent is rounded
    in double precision: below 1e8, value × 100 and the decimal form's hundredths differ by less
    than 1e-5, so both round alike. Nearer the half the cast decides (1.005 is
    1.00499999999999989… as a double; the cast gives 1.01, rounding the double 1.00). At L, 3.0 M
    engagement rows in one process: 4.3 s → 2.2–2.4 s for their hundredths. `value` is written
    four times, and PostgreSQL computes it three times for a value rounded in double precision
    (a subquery kept apart to compute it once, with "offset 0", took the scores' aggregate off
    the parallel workers). -#}
{% macro hundredths_of(value) -%}
    case
        when abs(({{ value }}) * 100 - round(({{ value }}) * 100)) < 0.4999
            then cast(round(({{ value }}) * 100) as bigint)
        else cast(cast({{ value }} as numeric(10, 2)) * 100 as bigint)
    end
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
