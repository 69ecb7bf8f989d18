-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_interests_weighted's sums (forward decay, macros/window_sums.sql): each interaction
    adds 2 ^ 41 units per interest on the landmark day, which moves every 20 half-lives (600 days
    by default) -#}

{% macro interests_landmark() -%}
    {{ return(window_landmark(20 * var("interests")["half_life_days"])) }}
{%- endmacro %}

{% macro interest_units(occurred_at) -%}
    {{ window_units("1", occurred_at, var("interests")["half_life_days"], interests_landmark(), 41) }}
{%- endmacro %}

{#- a sum of units as a weight as of the run's logical date -#}
{% macro interest_weight_of_units(units) -%}
    {{ window_units_as_of(units, var("interests")["half_life_days"], interests_landmark(), 41) }}
{%- endmacro %}

{% macro interests_added() -%}
    pg_temp.{{ this.name }}__added
{%- endmacro %}

{#- pre-hook, on an incremental build: the contacts counted whole again (window_recounted()), and
    the interactions whose units the other contacts' sums take or give up (interests_added():
    window_news()) -#}
{% macro interests_sums_pre_hook(window) -%}
    {%- if is_incremental() %}
        {{ window_recounted_pre_hook(window, "weight_units") }}

        create temporary table {{ interests_added() }} on commit drop as
        {{ window_news(window, "news", ["contact_id", "interests", "occurred_at"]) }};
        analyze {{ interests_added() }};
    {%- endif %}
{%- endmacro %}

{#- the contacts an incremental build replaces the rows of: those counted again and those whose
    sums take interactions -#}
{% macro interests_rebuild() -%}
    select recounted.contact_id from {{ window_recounted() }} as recounted
    union all
    select added.contact_id from {{ interests_added() }} as added
{%- endmacro %}
