{#- The generic feed (DESIGN.md): its columns per entity, and the raw tables that hold them.
    The lists must equal leadflow.sources.feed.ENTITIES (a unit test compares them). -#}

{% macro feed_columns(entity) -%}
    {%- set columns = {
        "contacts": [
            "source_system", "source_record_id", "updated_at", "email", "phone", "crm_id", "cookie_id",
            "first_name", "last_name", "job_title", "company", "industry", "company_size", "country",
            "marketing_area", "email_opt_in", "phone_opt_in",
        ],
        "interactions": [
            "source_system", "source_interaction_id", "occurred_at", "interaction_type", "source_record_id",
            "email", "crm_id", "cookie_id", "campaign_id", "content_url", "interests", "marketing_area",
        ],
        "opportunities": [
            "source_system", "opportunity_id", "crm_id", "account", "created_at", "closed_at", "status",
            "amount",
        ],
        "campaigns": ["source_system", "campaign_id", "name", "channel", "started_at", "ended_at"],
    } -%}
    {{ return(columns[entity]) }}
{%- endmacro %}

{#- Every raw table of an entity, whatever the source: raw.<source_system>__<entity>. -#}
{% macro feed_relations(entity) -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- set tables = run_query(
            "select tablename from pg_tables where schemaname = 'raw' and right(tablename, "
            ~ (entity | length + 2) ~ ") = '__" ~ entity ~ "' order by tablename"
        ) -%}
        {%- for name in tables.columns[0].values() -%}
            {%- do found.append(api.Relation.create(database=target.database, schema="raw", identifier=name)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}

{#- One relation of every source's raw rows of an entity; an empty, typed relation when no source
    has landed any yet. The source system falls back to the table's name when a row leaves it empty. -#}
{% macro union_feed(entity) -%}
    {%- set columns = feed_columns(entity) -%}
    {%- set relations = feed_relations(entity) -%}
    {%- for relation in relations %}
    select
        load_id,
        loaded_at,
        coalesce(nullif(btrim(source_system), ''), '{{ relation.identifier.split("__")[0] }}') as source_system,
        {%- for column in columns[1:] %}
        {{ column }},
        {%- endfor %}
        payload
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as uuid) as load_id,
        cast(null as timestamptz) as loaded_at,
        {%- for column in columns %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        cast(null as jsonb) as payload
    where false
    {%- endfor %}
{%- endmacro %}
