{#- Marts that are views computed when read (contact_interests, contact_score_reasons: a decay of
    intermediate rows to the run's date, instead of a table rewritten whole every day) cannot use
    the row-level security of the marts tables (plugins/leadflow/access.py): a BI role reads no
    intermediate table, so such a view runs as its owner and filters its rows itself, to exactly
    what the policies let the reader see of a marts table. access.py tells them by their
    security_barrier option (a filtering view needs it anyway: no function of the reader's query
    sees a row before the filter does) and grants them to every BI role. -#}

{#- ops.bi_access, the BI roles' marketing areas (written by access.py, which creates it as well):
    created before the models, so that the views can name it before access was ever applied -#}
{% macro create_bi_access() -%}
    create schema if not exists ops;
    create table if not exists ops.bi_access (
        role_name text not null,
        marketing_area text not null,  -- '*': every area
        primary key (role_name, marketing_area)
    )
{%- endmacro %}

{#- The rows of a CTE (not materialized, with a contact_id column) that the reader of the view may
    see, as the marts' policies decide for a table:
    - the owner of the marts (the pipeline; dbt's models read these views as it) and superusers: all
      rows, as a table's owner is not subject to its policies;
    - a role mapped to every area ('*'): all rows;
    - a role mapped to areas: the rows of golden contacts (dim_contacts) of those areas;
    - anyone else: none.
    Two branches, each behind a condition computed once per query, so only one of them runs: a
    condition per row (a role check, a subquery per row) kept PostgreSQL from scanning in parallel
    and cost 4.0 s instead of 1.1 s for the 2.6 M interests at L. -#}
{% macro rows_the_reader_sees(rows, contacts) -%}
    select {{ rows }}.* from {{ rows }}
    where {{ reader_sees_every_row() }}
    union all
    select {{ rows }}.* from {{ rows }}
    where
        not {{ reader_sees_every_row() }}
        and {{ rows }}.contact_id in (
            select visible.contact_id
            from {{ contacts }} as visible
            where visible.marketing_area = any({{ reader_areas() }})
        )
{%- endmacro %}

{#- The reader's areas, once per query (none: null). As a join of the contacts with ops.bi_access
    filtered by role, the planner took the reader's contacts for a few (the role check's
    selectivity is a guess) and looked up every interest of 555 k contacts one by one: 7.0 s for
    an area role's full read of the interests at L, against 0.5 s this way. -#}
{% macro reader_areas() -%}
    (
        select array_agg(access.marketing_area)
        from ops.bi_access as access
        where pg_has_role(current_user, access.role_name, 'MEMBER')
    )::text[]
{%- endmacro %}

{% macro reader_sees_every_row() -%}
    (
        select
            pg_has_role(current_user, (select nspowner from pg_namespace where nspname = 'marts'), 'USAGE')
            or exists (
                select from ops.bi_access as access
                where access.marketing_area = '*' and pg_has_role(current_user, access.role_name, 'MEMBER')
            )
    )
{%- endmacro %}

{#- The post-hook of such a view: it filters rows, so it is a security barrier (and access.py
    knows it by that) -#}
{% macro self_filtering_view() -%}
    alter view {{ this }} set (security_barrier = true)
{%- endmacro %}

{#- The layers' post-hook: statistics for the next model's plans, for tables (a view has none).
    It runs before the model's own post-hooks; a model whose own hooks end with an analyze (after
    building an expression index, or pruning rows) says so in its meta (analyzes_itself) and is
    analyzed once, not twice (fct_interactions: 0.8-0.9 s a day at L). -#}
{% macro analyze_table() -%}
    {%- set meta = config.get("meta") or {} -%}  {#- (while parsing, config.get gives "") -#}
    {%- if config.get("materialized") != "view" and not meta.get("analyzes_itself") -%}
        {{ analyze_if_written() }}
    {%- endif -%}
{%- endmacro %}

{#- Analyze the model's table unless this build (the transaction its post-hooks run in) wrote no
    row of it and it has statistics: they are then those of the same rows. An incremental model
    with nothing to do costs nothing here (a day without new data at L: 18 s of analyzes, 3.5 s
    for contact_origins alone; runs more often than daily have many such models). A build that
    wrote any row still analyzes, as the plans of the models after it need (benchmarks/HISTORY.md:
    skipping it after small changes was tried and reverted). Not seen here: what the model's own
    post-hooks write after this hook (the layers' hooks run first: rows of redone contacts left
    with none, campaign_attribution's dates), and rows another transaction wrote (an erasure):
    the next build that writes a row analyzes them, as the build after them did before, and
    autovacuum's analyze when they are many. PostgreSQL's count of changes since the last analyze
    cannot tell: it also counts the rows an analyze in the same transaction saw. Statistics are
    read through pg_stats (pg_statistic needs a superuser). -#}
{% macro analyze_if_written() -%}
    do $analyze$ begin
        if exists (
            select from pg_stat_xact_user_tables as written
            where written.relid = '{{ this }}'::regclass
                and written.n_tup_ins + written.n_tup_upd + written.n_tup_del > 0
        ) or not exists (
            select from pg_stats as taken
            where taken.schemaname = '{{ this.schema }}' and taken.tablename = '{{ this.identifier }}'
        ) then
            analyze {{ this }};
        end if;
    end $analyze$
{%- endmacro %}
