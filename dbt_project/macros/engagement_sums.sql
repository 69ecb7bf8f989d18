-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_engagement_points' sums (forward decay, macros/window_sums.sql): each counted point
    adds 2 ^ 36 units on the landmark day (a rule's points per interaction at most 64), which moves
    every 20 of the shortest half-lives of seed score_engagement_rules.

    Caps are per calendar period, so news changes what a period counts: a day counts again the
    periods (of a contact and rule) that a new interaction, or one that came into or left the year,
    falls in — as they were at the last build (the rows there then, within its window) and as they
    are now — and the sums take the difference. -#}

{% macro engagement_landmark() -%}
    {%- set shortest = 14 -%}
    {#- (a dbt unit test, where `this` is none, has no seed table to read) -#}
    {%- if execute and modules is defined and this is not none -%}
        {%- set found = run_query(
            "select min(half_life_days) from " ~ ref('score_engagement_rules')
        ).columns[0].values() -%}
        {%- set shortest = found[0] if found and found[0] else shortest -%}
    {%- endif -%}
    {{ return(window_landmark(20 * shortest)) }}
{%- endmacro %}

{% macro engagement_units(points, occurred_at, half_life_days) -%}
    {{ window_units(points, occurred_at, half_life_days, engagement_landmark(), 36) }}
{%- endmacro %}

{% macro engagement_points_of_units(units, half_life_days) -%}
    {{ window_units_as_of(units, half_life_days, engagement_landmark(), 36) }}
{%- endmacro %}

{#- a calendar cap period: whole periods of `period_days` since cap_periods_from(), of
    `occurred_at`; and the time one starts at -#}
{% macro cap_period_of(occurred_at, period_days) -%}
    {%- set periods_from = "cast('" ~ cap_periods_from() ~ " 00:00:00+00' as timestamptz)" -%}
    floor({{ days_between(periods_from, occurred_at) }} / {{ period_days }})
{%- endmacro %}

{% macro cap_period_start(period, period_days) -%}
    cast('{{ cap_periods_from() }} 00:00:00+00' as timestamptz)
    + ({{ period }}) * {{ period_days }} * interval '86400 seconds'
{%- endmacro %}

{% macro engagement_changes() -%}
    pg_temp.{{ this.name }}__changes
{%- endmacro %}

{#- pre-hook, on an incremental build: the contacts counted whole again (window_recounted()), and
    for the others the change of their sums per rule (engagement_changes(): interactions, points
    before decay, units) from the periods their news falls in (window_news()), each period counted
    as it was (its rows not written since, within the last build's window) and as it is -#}
{% macro engagement_sums_pre_hook(window) -%}
    {%- if is_incremental() %}
        {%- set since = contact_watermark_as_of() -%}
        {%- set lookback = "interval '" ~ window["lookback_days"] ~ " days'" -%}
        {{ window_recounted_pre_hook(window, "points_units") }}

        create temporary table {{ engagement_changes() }} on commit drop as
        with

        periods as (
            select distinct
                news.contact_id,
                news.interaction_type,
                {{ cap_period_of('news.occurred_at', 'rules.cap_period_days') }} as cap_period
            from ({{ window_news(window, "news", ["contact_id", "interaction_type", "occurred_at"]) }}) as news
            inner join {{ ref('score_engagement_rules') }} as rules
                on news.interaction_type = rules.interaction_type
        ),

        period_rows as (
            select
                periods.contact_id,
                periods.interaction_type,
                periods.cap_period,
                rules.points,
                rules.cap_points,
                rules.half_life_days,
                counted.interaction_key,
                counted.occurred_at,
                counted.occurred_at <= {{ as_of() }}
                and counted.occurred_at > {{ as_of() }} - {{ lookback }} as is_counted_now,
                {%- if since is none %}
                false as was_counted
                {%- else %}
                not coalesce({{ written_since_last_build('counted') }}, false)
                and counted.occurred_at <= {{ since }}
                and counted.occurred_at > {{ since }} - {{ lookback }} as was_counted
                {%- endif %}
            from periods
            inner join {{ ref('score_engagement_rules') }} as rules
                on periods.interaction_type = rules.interaction_type
            cross join lateral (
                select
                    interactions.interaction_key,
                    interactions.occurred_at,
                    interactions.written_at
                from {{ ref('fct_interactions') }} as interactions
                where
                    interactions.contact_id = periods.contact_id
                    and interactions.occurred_at >= {{ cap_period_start('periods.cap_period', 'rules.cap_period_days') }}
                    and interactions.occurred_at < {{ cap_period_start('periods.cap_period + 1', 'rules.cap_period_days') }}
                    and interactions.interaction_type = periods.interaction_type
                    and {{ window["interactions_filter"] }}
                offset 0  -- noqa: AM09
            ) as counted
        ),

        sides as (
            select period_rows.*, 1 as sign from period_rows where period_rows.is_counted_now
            union all
            select period_rows.*, -1 as sign from period_rows where period_rows.was_counted
        ),

        running as (
            select
                sides.*,
                sum(sides.points) over (
                    partition by sides.contact_id, sides.interaction_type, sides.cap_period, sides.sign
                    order by sides.occurred_at desc, sides.interaction_key asc
                    rows between unbounded preceding and current row
                ) as running_points
            from sides
        ),

        capped as (
            select
                running.*,
                {{ capped_points('running') }} as counted_points
            from running
        )

        select
            capped.contact_id,
            capped.interaction_type as rule,
            sum(capped.sign) as interactions,
            sum(capped.sign * capped.counted_points) as points_before_decay,
            sum(capped.sign * {{ engagement_units('capped.counted_points', 'capped.occurred_at', 'capped.half_life_days') }}) as points_units
        from capped
        group by capped.contact_id, capped.interaction_type;
        create index on {{ engagement_changes() }} (contact_id);
        analyze {{ engagement_changes() }};
    {%- endif %}
{%- endmacro %}

{#- the points a capped interaction counts: all of them, or what its period's cap leaves after the
    more recent ones (`row`: with points, cap_points and running_points) -#}
{% macro capped_points(row) -%}
    case
        when {{ row }}.cap_points is null then {{ row }}.points
        else greatest(0, least({{ row }}.points, {{ row }}.cap_points - ({{ row }}.running_points - {{ row }}.points)))
    end
{%- endmacro %}

{#- the (contact, rule) rows an incremental build replaces: every row of the contacts counted again
    (the select writes all of theirs), and the rules whose sums change of the others (a contact's
    other rules keep their rows: 1 % new interactions at L touch 97 k contacts and 103 k of their
    411 k rows) -#}
{% macro engagement_rebuild() -%}
    {{ window_recounted_rows('rule') }}
    union all
    select changes.contact_id, changes.rule from {{ engagement_changes() }} as changes
{%- endmacro %}
