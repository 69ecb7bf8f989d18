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
    add each named column check constraint the existing table lacks (a table built before the
    constraint was declared), as a post-hook. Adding one checks every row once; later runs find it
    and do nothing. -#}
{% macro ensure_contract_checks() -%}
    {%- set statements = [] -%}
    {%- for column in model['columns'].values() -%}
        {%- for constraint in column.get('constraints') or [] -%}
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
