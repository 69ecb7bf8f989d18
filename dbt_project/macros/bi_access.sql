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

{#- Whether the reader of the view may see the row of a contact (an expression over its contact_id),
    as the marts' policies decide for a table:
    - the owner of the marts (the pipeline; dbt's models read these views as it) and superusers: all
      rows, as a table's owner is not subject to its policies;
    - a role mapped to every area ('*'): all rows;
    - a role mapped to areas: the rows of golden contacts (dim_contacts) of those areas;
    - anyone else: none.
    The first two are computed once per query (no reference to the row). -#}
{% macro reader_sees_contact(contact_id, contacts) -%}
    (
        pg_has_role(
            current_user, (select nspowner from pg_namespace where nspname = 'marts'), 'USAGE'
        )
        or exists (
            select from ops.bi_access as access
            where access.marketing_area = '*' and pg_has_role(current_user, access.role_name, 'MEMBER')
        )
        or exists (
            select from {{ contacts }} as visible
            inner join ops.bi_access as access on visible.marketing_area = access.marketing_area
            where visible.contact_id = {{ contact_id }} and pg_has_role(current_user, access.role_name, 'MEMBER')
        )
    )
{%- endmacro %}

{#- The post-hook of such a view: it filters rows, so it is a security barrier (and access.py
    knows it by that) -#}
{% macro self_filtering_view() -%}
    alter view {{ this }} set (security_barrier = true)
{%- endmacro %}

{#- The layers' post-hook: statistics for the next model's plans, for tables (a view has none) -#}
{% macro analyze_table() -%}
    {%- if config.get("materialized") != "view" %}analyze {{ this }}{% endif -%}
{%- endmacro %}
