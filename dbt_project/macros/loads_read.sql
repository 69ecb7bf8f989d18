-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- Which loads a model has read, for models that merge each new load into rows they keep
    (int_identity_origins): an incremental build reads exactly the loads it has not read yet.

    - on-run-start creates intermediate.loads_read (model, load_id, read_at);
    - the pre-hook `capture_loads_to_read()` lists, in a temporary table of the model's
      transaction, the loads finished and not read by this model yet (every finished load on a
      full build, which also forgets what was read before). A load's rows commit with its
      finished_at (landing), so every listed load's rows are visible to the model's query;
    - the model reads `load_id = any({{ loads_to_read() }})` (an array: the filter then reaches
      each raw table's scan);
    - the post-hook `record_loads_read()` records the listed loads, in the same transaction.
    A load that finished after the list was made is read again next time (a full build reads
    every row): the merges must make reading a load twice change nothing. -#}

{% macro loads_read() -%}
    {{ generate_schema_name('intermediate', none) }}.loads_read
{%- endmacro %}

{% macro create_loads_read() -%}
    create schema if not exists {{ generate_schema_name('intermediate', none) }};
    create table if not exists {{ loads_read() }} (
        model text not null,
        load_id uuid not null,
        read_at timestamptz not null,
        primary key (model, load_id)
    )
{%- endmacro %}

{% macro loads_to_read_table() -%}
    pg_temp.{{ this.name }}__loads_to_read
{%- endmacro %}

{#- pre-hook (rendered when it runs: is_incremental() is false on a first or full build) -#}
{% macro capture_loads_to_read() -%}
    {%- if not is_incremental() %}
        delete from {{ loads_read() }} where model = '{{ this.name }}';
    {%- endif %}
    create temporary table {{ loads_to_read_table() }} on commit drop as
    {{ loads_to_read_query(incremental=is_incremental()) }}
{%- endmacro %}

{#- the finished loads this model has not read yet (every finished load when not incremental):
    what the pre-hook lists, and what the model bounds raw's loaded_at by (landed_since) -#}
{% macro loads_to_read_query(incremental=true) -%}
    select loads.load_id
    from {{ source('ops', 'loads') }} as loads
    where
        loads.finished_at is not null
        {%- if incremental %}
            and not exists (
                select from {{ loads_read() }} as seen
                where seen.model = '{{ this.name }}' and seen.load_id = loads.load_id
            )
        {%- endif %}
{%- endmacro %}

{% macro loads_to_read() -%}
    array(select load_id from {{ loads_to_read_table() }})
{%- endmacro %}

{% macro record_loads_read() -%}
    insert into {{ loads_read() }} (model, load_id, read_at)
    select '{{ this.name }}', load_id, now() from {{ loads_to_read_table() }}
    on conflict (model, load_id) do nothing
{%- endmacro %}

{#- dbt's hook for a test's `where` config (dbt documents overriding it for placeholders), with
    one placeholder: `__loads_not_read_yet__`, the rows of the loads int_identity_origins has not
    read yet — every finished load, when it has read none or on a full refresh. The staging tests
    take it (dbt_project.yml): raw is append-only, so each landed row is checked once, in the first
    build that reads its load (a failed build leaves the load unread, checked again next time),
    instead of every row of the history in every run (12 s a day at 11 M interactions). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__loads_not_read_yet__' in where -%}
        {%- set where = where | replace('__loads_not_read_yet__', loads_not_read_yet_filter()) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{#- Listed when the test runs, as literals: with `load_id = any(<subquery>)` the planner cast every
    row's text first and scanned all of raw (12 s a day at L) to find none. With the list, nothing
    is read when every load was read (where false), and otherwise raw's BRIN index of loaded_at
    narrows the scan to the blocks written since the oldest unread load started (rows are stamped
    by the server's clock after their load started, as the raw checks' batches assume). -#}
{% macro loads_not_read_yet_filter(reader='int_identity_origins') -%}
    {%- if flags.FULL_REFRESH or not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {#- one query: whether the reader has read anything, and the loads it has not (a row of nulls
        when none) -#}
    {%- set query -%}
        select
            exists (select from {{ loads_read() }} as seen where seen.model = '{{ reader }}') as read_before,
            cast(unread.load_id as text) as load_id,
            cast(unread.started_at as text) as started_at
        from (select 1) as one
        left join (
            select loads.load_id, loads.started_at
            from {{ source('ops', 'loads') }} as loads
            where
                loads.finished_at is not null
                and not exists (
                    select from {{ loads_read() }} as seen
                    where seen.model = '{{ reader }}' and seen.load_id = loads.load_id
                )
        ) as unread on true
        order by unread.started_at
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {%- if not result.columns[0].values()[0] -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set ids = result.columns[1].values() | reject('none') | list -%}
    {%- if ids | length == 0 -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return(
        "loaded_at >= cast('" ~ result.columns[2].values()[0] ~ "' as timestamptz)"
        ~ " and load_id in ('" ~ ids | join("', '") ~ "')"
    ) }}
{%- endmacro %}

{#- A condition on raw's loaded_at that keeps every row of the loads `load_ids` selects (an SQL
    query of load ids, as the model selects them), with a literal read when the model is compiled:
    raw's BRIN index of loaded_at then narrows the scan to the blocks written since, where
    `load_id = any(...)` alone read every raw table whole (11 M interactions at L, 1.8-2.1 s per
    model a day). The bound is the earliest start of those loads and of every load not finished
    yet, and never later than now: a load that starts after the model is compiled started after
    it. Rows are stamped by the server's clock after their load started (as
    loads_not_read_yet_filter assumes). The loads a model selects must not change between its
    compilation and its run but by loads that finish meanwhile (it keeps their log itself, or an
    upstream model wrote it). `true` on a full build and in unit tests. -#}
{% macro landed_since(load_ids) -%}
    {#- (a unit test's rows are its own: no bound, and no source to read) -#}
    {%- if not execute or this is none or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set query -%}
        select cast(least(now(), min(loads.started_at)) as text)
        from {{ source('ops', 'loads') }} as loads
        where loads.finished_at is null or loads.load_id in ({{ load_ids }})
    {%- endset -%}
    {{ return("loaded_at >= cast('" ~ run_query(query).columns[0].values()[0] ~ "' as timestamptz)") }}
{%- endmacro %}
