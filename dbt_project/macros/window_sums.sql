-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- The windowed per-contact models (int_contact_interests_weighted, int_contact_engagement_points)
    keep their sums so that a day adds the new interactions to them instead of counting each
    touched contact's window again (forward decay).

    An interaction's weight as of a date is 0.5 ^ (age in days / half-life). Measured from a fixed
    day instead (the landmark), 2 ^ (days from the landmark / half-life) does not depend on the
    date, so a sum of those grows by the new interactions and shrinks by those that left the
    window, and the sum as of any date is that sum × 0.5 ^ (days from the landmark / half-life).
    Each interaction adds a whole number of units (2 ^ bits per point on the landmark day), so
    the sums are exact: added up day by day or in one build, they are the same number.

    The landmark moves every 20 half-lives (the shortest, where rules have several), which keeps
    every unit count within a bigint; the build after it moved counts every contact again (it is
    part of the window's settings). -#}

{#- the landmark of the run's logical date: 2001-01-01 plus whole periods of `period_days`, as a
    date literal; from the same value as as_of() (the var, LEADFLOW_AS_OF, else today) -#}
{% macro window_landmark(period_days) -%}
    {#- (sqlfluff's templater has no dbt modules) -#}
    {%- if modules is not defined -%}
        {{ return("2001-01-01") }}
    {%- endif -%}
    {%- set value = var("as_of") or (env_var("LEADFLOW_AS_OF", "") if execute else "") -%}
    {%- set datetime = modules.datetime -%}
    {%- if value -%}
        {%- set moment = datetime.datetime.fromisoformat(value | replace("Z", "+00:00")) -%}
        {%- if moment.tzinfo is not none -%}
            {%- set moment = moment.astimezone(modules.pytz.utc) -%}
        {%- endif -%}
    {%- else -%}
        {%- set moment = datetime.datetime.now(modules.pytz.utc) -%}
    {%- endif -%}
    {%- set epoch = datetime.date(2001, 1, 1) -%}
    {%- set period = [period_days | int, 1] | max -%}
    {%- set days = (moment.date() - epoch).days -%}
    {{ return((epoch + datetime.timedelta(days=(days // period) * period)).isoformat()) }}
{%- endmacro %}

{#- the units `points` at `occurred_at` add to a sum (points × 2 ^ (bits + days from the landmark /
    half-life), rounded; `bits` leaves room for the points: at most 2 ^ (62 - bits - 20)) -#}
{% macro window_units(points, occurred_at, half_life_days, landmark, bits) -%}
    cast(round({{ points }} * power(
        2.0,
        {{ days_between("cast('" ~ landmark ~ " 00:00:00+00' as timestamptz)", occurred_at) }}
        / {{ half_life_days }} + {{ bits }}
    )) as bigint)
{%- endmacro %}

{#- a sum of units as of the run's logical date (double precision, to 12 decimals) -#}
{% macro window_units_as_of(units, half_life_days, landmark, bits) -%}
    round(cast({{ units }} as double precision) * power(
        2.0,
        -{{ bits }} - {{ days_between("cast('" ~ landmark ~ " 00:00:00+00' as timestamptz)", as_of()) }}
        / {{ half_life_days }}
    ) * 1e12) / 1e12
{%- endmacro %}

{% macro window_recounted() -%}
    pg_temp.{{ this.name }}__recounted
{%- endmacro %}

{#- the keys (contact_id, `column`) of the kept rows of the contacts counted whole again: in a
    windowed model's rebuild set, as the select writes all of theirs -#}
{% macro window_recounted_rows(column) -%}
    select kept.contact_id, kept.{{ column }}
    from {{ this }} as kept
    where kept.contact_id in (select recounted.contact_id from {{ window_recounted() }} as recounted)
{%- endmacro %}

{#- The rows of fct_interactions written since this model's last build (its watermark's built_at:
    fct_interactions.written_at is when a build wrote a row), by written_at's index; none without a
    watermark (every contact is counted whole then). The time as a literal, read when the model is
    compiled: compared with a subquery's value, the planner guessed a third of the 11 M rows at L
    and scanned them all. -#}
{% macro written_since_last_build(alias) -%}
    {%- set built_at = contact_watermark_built_at() -%}
    {%- if built_at is none -%}
        false
    {%- else -%}
        {{ alias }}.written_at > {{ built_at }}
    {%- endif -%}
{%- endmacro %}

{% macro contact_watermark_built_at() -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select cast(w.built_at as text) from {{ contact_change_watermarks() }} as w
        where w.model = '{{ this.name }}'
    {%- endset -%}
    {%- set rows = run_query(query).columns[0].values() -%}
    {{ return("cast('" ~ rows[0] ~ "' as timestamptz)" if rows else none) }}
{%- endmacro %}

{#- pre-hook, on an incremental build: the column of the sums (`units_column`; a table from before
    them gets it, empty, and its first build counts every contact again, as the window's settings
    changed), and the contacts counted whole again (window_recounted()): every contact when the
    model has no watermark, its rules or settings changed (the landmark among them), or this is a
    backfill of an earlier day; else those the log names for a reason other than new interactions
    (the identity build's, or fct_interactions' 'rebuilt': an interaction re-sent, moved to or from
    the contact; a record landed again only where the contact has no rows yet), and those of rows
    written since that were not new (the same, read from the rows: also where the log did not
    name them) -#}
{% macro window_recounted_pre_hook(window, units_column) -%}
    {%- set since = contact_watermark_as_of() -%}
    alter table {{ this }} add column if not exists {{ units_column }} numeric;

    create temporary table {{ window_recounted() }} on commit drop as
    select distinct recounted.contact_id from (
        select current_contacts.contact_id
        from {{ ref('int_contact_origins_current') }} as current_contacts
        where {% if since is none %}true{% else %}{{ everything_changed(window["rules"], window["settings"]) }}{% endif %}
        union all
        select changes.contact_id
        from {{ ref('int_contact_changes') }} as changes
        where
            changes.change_sequence > {{ consumed_sequence() }}
            and changes.logged_by in ('int_contact_changes', 'fct_interactions')
            and changes.reason not in ('visited', 'seen', 'appended', 'landed')
        union all
        -- a record landed again changes no contact's interactions (what moves them is logged as
        -- identity or by fct_interactions) and takes no contact's golden status away; it makes one
        -- golden (a cookie that now names an email) only where it had no rows (20 k contacts a
        -- day at L, a third of the engagement points' day when counted whole)
        select changes.contact_id
        from {{ ref('int_contact_changes') }} as changes
        where
            {{ logged_since_last_build('int_contact_changes', reasons=['landed']) }}
            and not exists (
                select from {{ this }} as kept
                where kept.contact_id = changes.contact_id
            )
        union all
        select unnest(array[written.contact_id, written.previous_contact_id])
        from {{ ref('fct_interactions') }} as written
        where {{ written_since_last_build('written') }} and not written.is_new_in_build
    ) as recounted
    where recounted.contact_id is not null;
    create index on {{ window_recounted() }} (contact_id);
    analyze {{ window_recounted() }};
{%- endmacro %}

{#- The rows of fct_interactions (as `alias`) whose news the kept sums take: the new rows written
    since the last build; and of the rows there before, those that came into the window since the
    last build's date (dated after it, up to this one's) or left it; each with `sign` (-1 for
    those that left, else 1). Those of the window's filter, of golden contacts not counted whole.
    `columns`: theirs to select.

    A contact with rows kept here is golden: the model keeps golden contacts' rows only, and one
    not counted whole again kept its origins, so it kept its golden status (a record landed again
    takes it from none). Only the others are looked up by their origins (is_golden_contact()): at
    L a day's 125 k news rows need 26 k such lookups instead of 125 k, each two index lookups
    whose pages are mostly not in memory at that point of the day (engagement's pre-hook on a
    fresh copy of a kept L database: 13.1-16.0 s → 9.4-12.1 s; warm, both take about 3.3 s). -#}
{% macro window_news(window, alias, columns) -%}
    {%- set since = contact_watermark_as_of() -%}
    {%- set lookback = "interval '" ~ window["lookback_days"] ~ " days'" -%}
    {%- set fct = ref('fct_interactions') -%}
    {%- set filter = window["interactions_filter"] | replace("interactions.", alias ~ ".") -%}
    select news.* from (
        select {{ alias }}.{{ columns | join(', ' ~ alias ~ '.') }}, 1 as sign
        from {{ fct }} as {{ alias }}
        where
            {{ written_since_last_build(alias) }}
            and {{ alias }}.is_new_in_build
            and {{ filter }}
            and {{ alias }}.occurred_at <= {{ as_of() }}
            and {{ alias }}.occurred_at > {{ as_of() }} - {{ lookback }}
    {%- if since is not none %}
        union all
        select {{ alias }}.{{ columns | join(', ' ~ alias ~ '.') }}, 1 as sign
        from {{ fct }} as {{ alias }}
        where
            {{ filter }}
            and {{ utc_day(alias ~ '.occurred_at') }} between {{ utc_day(since) }} and {{ utc_day(as_of()) }}
            and {{ alias }}.occurred_at > {{ since }} and {{ alias }}.occurred_at <= {{ as_of() }}
            and not coalesce({{ written_since_last_build(alias) }}, false)
        union all
        select {{ alias }}.{{ columns | join(', ' ~ alias ~ '.') }}, -1 as sign
        from {{ fct }} as {{ alias }}
        where
            {{ filter }}
            and {{ utc_day(alias ~ '.occurred_at') }}
            between {{ utc_day(since ~ ' - ' ~ lookback) }} and {{ utc_day(as_of() ~ ' - ' ~ lookback) }}
            and {{ alias }}.occurred_at > {{ since }} - {{ lookback }}
            and {{ alias }}.occurred_at <= {{ as_of() }} - {{ lookback }}
            and not coalesce({{ written_since_last_build(alias) }}, false)
    {%- endif %}
    ) as news
    where
        news.contact_id is not null
        and not exists (
            select from {{ window_recounted() }} as recounted
            where recounted.contact_id = news.contact_id
        )
        and (
            exists (
                select from {{ this }} as kept
                where kept.contact_id = news.contact_id
            )
            or {{ is_golden_contact('news.contact_id') }}
        )
{%- endmacro %}
