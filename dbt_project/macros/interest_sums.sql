-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_interests_weighted keeps its sums so that a day adds the new interactions to them
    instead of counting each touched contact's six months again (forward decay).

    An interaction's weight as of a date is 0.5 ^ (age in days / half-life). Measured from a fixed
    day instead (the landmark), 2 ^ (days from the landmark / half-life) does not depend on the
    date, so a sum of those grows by the new interactions and shrinks by those that left the
    window, and the sum as of any date is that sum × 0.5 ^ (days from the landmark / half-life).
    Each interaction adds a whole number of units (2 ^ 41 to an interaction on the landmark day),
    so the sums are exact: added up day by day or in one build, they are the same number.

    The landmark moves every 20 half-lives (600 days by default), which keeps every unit count
    within a bigint (2 ^ 61 at most); the build after it moved counts every contact again (it is
    part of the window's settings, interests_window()). -#}

{#- the landmark of the run's logical date: 2001-01-01 plus whole periods of 20 half-lives, as a
    date literal; from the same value as as_of() (the var, LEADFLOW_AS_OF, else today) -#}
{% macro interests_landmark() -%}
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
    {%- set period = [(20 * var("interests")["half_life_days"]) | int, 1] | max -%}
    {%- set days = (moment.date() - epoch).days -%}
    {{ return((epoch + datetime.timedelta(days=(days // period) * period)).isoformat()) }}
{%- endmacro %}

{#- the units one interaction at `occurred_at` adds to a sum -#}
{% macro interest_units(occurred_at) -%}
    cast(round(power(
        2.0,
        {{ days_between("cast('" ~ interests_landmark() ~ " 00:00:00+00' as timestamptz)", occurred_at) }}
        / {{ var("interests")["half_life_days"] }} + 41
    )) as bigint)
{%- endmacro %}

{#- a sum of units as a weight as of the run's logical date (double precision, to 12 decimals) -#}
{% macro interest_weight_of_units(units) -%}
    round(cast({{ units }} as double precision) * power(
        2.0,
        -41 - {{ days_between("cast('" ~ interests_landmark() ~ " 00:00:00+00' as timestamptz)", as_of()) }}
        / {{ var("interests")["half_life_days"] }}
    ) * 1e12) / 1e12
{%- endmacro %}

{% macro interests_recounted() -%}
    pg_temp.{{ this.name }}__recounted
{%- endmacro %}

{% macro interests_added() -%}
    pg_temp.{{ this.name }}__added
{%- endmacro %}

{#- The rows of fct_interactions written since this model's last build (its watermark's built_at:
    fct_interactions.written_at is when a build wrote a row), by written_at's index -#}
{% macro written_since_last_build(alias) -%}
    {{ alias }}.written_at > (
        select w.built_at from {{ contact_change_watermarks() }} as w
        where w.model = '{{ this.name }}'
    )
{%- endmacro %}

{#- pre-hook, on an incremental build, two temporary tables:
    - the contacts counted whole again (interests_recounted()): every contact when the model has no
      watermark, its rules or settings changed (the landmark among them), or this is a backfill of
      an earlier day; else those the log names for a reason other than new interactions (the
      identity build's, or fct_interactions' 'rebuilt': an interaction re-sent, moved to or from
      the contact), and those of rows written since that were not new (the same, read from the
      rows: also where the log did not name them);
    - the interactions whose units the other contacts' sums take (interests_added()), with +1 or
      -1: the new rows written since, dated within the window; and of the rows there before, those
      that came into the window since the last build's date (dated after it, up to this one's) and,
      with -1, those that left it. Golden contacts' only. -#}
{% macro interests_sums_pre_hook(window) -%}
    {%- if is_incremental() %}
        {%- set since = contact_watermark_as_of() -%}
        {%- set lookback = "interval '" ~ window["lookback_days"] ~ " days'" -%}
        {%- set fct = ref('fct_interactions') -%}
        {#- (a table from before the sums gets their column, empty: its first build counts every
            contact again, as the window's settings changed) -#}
        alter table {{ this }} add column if not exists weight_units numeric;

        create temporary table {{ interests_recounted() }} on commit drop as
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
                and changes.reason not in ('visited', 'appended')
            union all
            select unnest(array[written.contact_id, written.previous_contact_id])
            from {{ fct }} as written
            where {{ written_since_last_build('written') }} and not written.is_new_in_build
        ) as recounted
        where recounted.contact_id is not null;
        create index on {{ interests_recounted() }} (contact_id);
        analyze {{ interests_recounted() }};

        create temporary table {{ interests_added() }} on commit drop as
        select changed.contact_id, changed.interests, changed.occurred_at, changed.sign
        from (
            select new.contact_id, new.interests, new.occurred_at, 1 as sign
            from {{ fct }} as new
            where
                {{ written_since_last_build('new') }}
                and new.is_new_in_build
                and {{ window["interactions_filter"] | replace("interactions.", "new.") }}
                and new.occurred_at <= {{ as_of() }}
                and new.occurred_at > {{ as_of() }} - {{ lookback }}
        {%- if since is not none %}
            union all
            select came.contact_id, came.interests, came.occurred_at, 1 as sign
            from {{ fct }} as came
            where
                {{ window["interactions_filter"] | replace("interactions.", "came.") }}
                and {{ utc_day('came.occurred_at') }} between {{ utc_day(since) }} and {{ utc_day(as_of()) }}
                and came.occurred_at > {{ since }} and came.occurred_at <= {{ as_of() }}
                and not coalesce({{ written_since_last_build('came') }}, false)
            union all
            select went.contact_id, went.interests, went.occurred_at, -1 as sign
            from {{ fct }} as went
            where
                {{ window["interactions_filter"] | replace("interactions.", "went.") }}
                and {{ utc_day('went.occurred_at') }}
                between {{ utc_day(since ~ ' - ' ~ lookback) }} and {{ utc_day(as_of() ~ ' - ' ~ lookback) }}
                and went.occurred_at > {{ since }} - {{ lookback }}
                and went.occurred_at <= {{ as_of() }} - {{ lookback }}
                and not coalesce({{ written_since_last_build('went') }}, false)
        {%- endif %}
        ) as changed
        where
            changed.contact_id is not null
            and not exists (
                select from {{ interests_recounted() }} as recounted
                where recounted.contact_id = changed.contact_id
            )
            and {{ is_golden_contact('changed.contact_id') }};
        analyze {{ interests_added() }};
    {%- endif %}
{%- endmacro %}

{#- the contacts an incremental build replaces the rows of: those counted again and those whose
    sums take interactions -#}
{% macro interests_rebuild() -%}
    select recounted.contact_id from {{ interests_recounted() }} as recounted
    union all
    select added.contact_id from {{ interests_added() }} as added
{%- endmacro %}
