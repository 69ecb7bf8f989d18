-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- A table with an enforced contract, built so PostgreSQL can use parallel workers.

    dbt-postgres builds such a table as `create table (columns and constraints); insert into … select`,
    and PostgreSQL never runs an INSERT's query in parallel: every mart (all have contracts) was
    built by one process while the other core idled — fct_interactions alone for minutes at 1 M
    contacts. `create table … as` may run in parallel, so this builds the table that way, with each
    column cast to its contract type in the contract's order (the insert's assignment casts), and
    then adds the contract's constraints in one ALTER TABLE, which checks them over the rows (a
    violation fails the build, as the insert would have). The columns are still checked against
    the contract first (dbt's assertion). Constraints it cannot add afterwards (foreign keys,
    custom ones) keep dbt's own path. -#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and not temporary and contract_constraints_addable() -%}
        {{ create_contract_table_as(relation, sql) }}
    {%- else -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- endif -%}
{%- endmacro %}

{% macro contract_constraints_addable() -%}
    {%- set addable = ['not_null', 'check', 'unique', 'primary_key'] -%}
    {%- for column in model['columns'].values() -%}
        {%- for constraint in column.get('constraints') or [] -%}
            {%- if constraint['type'] not in addable -%}{{ return(false) }}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in model.get('constraints') or [] -%}
        {%- if constraint['type'] not in addable -%}{{ return(false) }}{%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{% macro create_contract_table_as(relation, sql) -%}
    {%- set unlogged = config.get('unlogged', default=false) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- set columns = model['columns'].values() | list -%}
    {%- set additions = [] -%}
    {%- for column in columns -%}
        {%- set name = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        {%- for constraint in column.get('constraints') or [] -%}
            {%- set expression = constraint.get('expression') or '' -%}
            {%- if constraint['type'] == 'not_null' -%}
                {%- do additions.append('alter column ' ~ name ~ ' set not null') -%}
            {%- elif constraint['type'] == 'check' and expression -%}
                {%- set constraint_name = 'constraint ' ~ constraint['name'] ~ ' ' if constraint.get('name') else '' -%}
                {%- do additions.append('add ' ~ constraint_name ~ 'check (' ~ expression ~ ')') -%}
            {%- elif constraint['type'] == 'unique' -%}
                {%- do additions.append('add unique (' ~ name ~ ')') -%}
            {%- elif constraint['type'] == 'primary_key' -%}
                {%- do additions.append('add primary key (' ~ name ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set model_constraints = model.get('constraints') or [] -%}
    {%- for rendered in adapter.render_raw_model_constraints(raw_constraints=model_constraints) -%}
        {%- do additions.append('add ' ~ rendered) -%}
    {%- endfor -%}
    {%- set casts = [] -%}
    {%- for column in columns -%}
        {%- set name = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        {%- do casts.append('cast(' ~ name ~ ' as ' ~ column['data_type'] ~ ') as ' ~ name) -%}
    {%- endfor %}

    {{ sql_header if sql_header is not none }}
    {{ get_assert_columns_equivalent(sql) }}
    create {% if unlogged %}unlogged {% endif %}table {{ relation }} as (
        select {{ casts | join(", ") }}
        from (
            {{ sql }}
        ) as model_subq
    );
    {%- if additions %}
        alter table {{ relation }} {{ additions | join(", ") }};
    {%- endif %}
{%- endmacro %}

{#- For an incremental model, whose contract constraints dbt adds only when it creates the table:
    add each named column check constraint and each not-null constraint the existing table lacks
    (a table built before the constraint was declared), as a post-hook. Adding one checks every
    row once; later runs find it and do nothing. -#}
{% macro ensure_contract_checks() -%}
    {%- set statements = [] -%}
    {%- for column in model['columns'].values() -%}
        {%- for constraint in column.get('constraints') or [] -%}
            {%- if constraint['type'] == 'not_null' -%}
                {%- do statements.append(
                    "if not exists (select from pg_attribute where attrelid = '" ~ this ~ "'::regclass"
                    ~ " and attname = '" ~ column['name'] ~ "' and attnotnull) then alter table " ~ this
                    ~ " alter column " ~ column['name'] ~ " set not null; end if;"
                ) -%}
            {%- endif -%}
            {%- set named_check = constraint['type'] == 'check' and constraint.get('name') -%}
            {%- if named_check and constraint.get('expression') -%}
                {%- do statements.append(
                    "if not exists (select from pg_constraint where conrelid = '" ~ this ~ "'::regclass"
                    ~ " and conname = '" ~ constraint['name'] ~ "') then alter table " ~ this
                    ~ " add constraint " ~ constraint['name'] ~ " check (" ~ constraint['expression'] ~ "); end if;"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if statements -%}
        do $ensure$ begin {{ statements | join(' ') }} end $ensure$
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- A post-hook that keeps a unique index on `columns` (a primary key or unique index on exactly
    them counts; else one is created, which checks every row once; PostgreSQL names it, as a name
    of ours could still be taken by the table a full refresh replaces):
    the database then refuses a duplicate as it is written, so no test scans the whole table for
    one after every run. dbt's `indexes` and contract constraints exist only where the table was
    created after they were declared; this holds for older tables too. `deferred`: a deferrable
    unique constraint instead, checked at commit — for a delete+insert model whose post-hook
    deletes the rows a build replaced under another key (contact_origins: an origin that moved to
    another contact is written before its old contact's row goes; int_identity_clusters: origins
    numbered again after an erasure). Checks the rows written so far first (the rest of the
    transaction checks as it goes: a table with pending checks can take no index), so it must
    follow the post-hooks that delete. -#}
{% macro ensure_unique_index(columns, deferred=false) -%}
    {%- if deferred %}
        set constraints all immediate;
    {%- endif %}
    do $ensure$ begin
        if not exists (
            select from pg_index as i
            where
                i.indrelid = '{{ this }}'::regclass
                and i.indisunique
                and i.indpred is null
                and (
                    select array_agg(a.attname::text order by k.position)
                    from unnest(i.indkey::int2[]) with ordinality as k (attnum, position)
                    inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum
                ) = array['{{ columns | join("', '") }}']
                {%- if deferred %}
                    and exists (select from pg_constraint as c where c.conindid = i.indexrelid and c.condeferrable)
                {%- endif %}
        ) then
            {%- if deferred %}
                alter table {{ this }} add unique ({{ columns | join(', ') }}) deferrable initially deferred;
            {%- else %}
                create unique index on {{ this }} ({{ columns | join(', ') }});
            {%- endif %}
        end if;
    end $ensure$
{%- endmacro %}

{#- A post-hook: the index `<model>__<suffix>` on `definition` (e.g. "(contact_id, occurred_at)"),
    created when this table has none of that name. Not `create index if not exists`: on a full
    refresh of an incremental model dbt builds a new table and drops the one it replaces only
    after the post-hooks, so that table still held the name and every such index was skipped —
    a full refresh left fct_interactions without its key, contact and day indexes. The replaced
    table's index is renamed out of the way first (it goes with its table). -#}
{% macro ensure_index(suffix, definition, unique=false) -%}
    {%- set name = this.identifier ~ "__" ~ suffix -%}
    do $ensure$ begin
        if not exists (
            select from pg_index as i
            inner join pg_class as index_names on i.indexrelid = index_names.oid
            where i.indrelid = '{{ this }}'::regclass and index_names.relname = '{{ name }}'
        ) then
            if to_regclass(format('%I.%I', '{{ this.schema }}', '{{ name }}')) is not null then
                execute format(
                    'alter index %I.%I rename to %I', '{{ this.schema }}', '{{ name }}',
                    left('{{ name }}', 40) || '__replaced_' || left(md5(random()::text), 8)
                );
            end if;
            create {{ "unique " if unique }}index "{{ name }}" on {{ this }} {{ definition }};
        end if;
    end $ensure$
{%- endmacro %}

{#- For a table built while nothing else runs (the scores' tail of a day's build), a pre-hook:
    sending a row from a parallel worker to the process that writes the table is priced at 0.1
    (parallel_tuple_cost, for queries that return few rows), and a build writes every row it
    joins, so the planner kept wide joins in one process while the other core idled. At 0.01 it
    hashes them on both cores: at 1 M contacts transfer_candidates 4.9 → 3.0 s, dim_accounts
    9.3 → 8.1 s, the current stages 1.6 → 1.2 s, lead_stages 3.8 → 3.5 s (the select alone, the
    same rows). -#}
{% macro cheap_parallel_gather() -%}
    set local parallel_tuple_cost = 0.01
{%- endmacro %}
