-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- How lead_stages builds on its last build (models/marts/scoring/lead_stages.sql). A contact's
    entry into its stage, previous stage and milestones come from lead_stage_history, which grows
    by every day's changes and is never rebuilt; reading all of it every day (1.9 s of the
    build's 2.9 s at 1 M contacts, 0.95 M history rows; more each day) is needed only when the
    last build cannot be built on. An ordinary day can: lead_stages was last built as of an earlier
    date, with the same stage definitions, and the history has changed since only by this day's
    build (which wrote the day's changes and nothing between the two dates). Then a contact keeps
    what the last build gave it unless it changed stage today, or was not scored then.

    lead_stage_history builds on it in turn: on an ordinary day each contact's latest earlier
    stage is its stage in the last lead_stages (lead_stage_history_keeps_last_stages, below).

    The table of the builds (in the project's intermediate schema, beside the per-contact models'
    watermarks, written by the two models' post-hooks): per model, its logical date (as_of) and a
    count of lead_stage_history's builds (history_builds: the history's own count; for
    lead_stages, the history's count when it was built). Both checks read it. -#}

{% macro stage_builds() -%}
    {{ generate_schema_name('intermediate', none) }}.stage_builds
{%- endmacro %}

{#- on-run-start: the table -#}
{% macro create_stage_builds() -%}
    create schema if not exists {{ generate_schema_name('intermediate', none) }};
    {{ create_watermark_table(stage_builds(), 'history_builds') }}
{%- endmacro %}

{#- lead_stage_history's post-hook: one more build, as of this date -#}
{% macro record_stage_history_build() -%}
    insert into {{ stage_builds() }} as builds (model, history_builds, built_at, as_of)
    values ('{{ this.name }}', 1, now(), {{ as_of() }})
    on conflict (model) do update set history_builds = builds.history_builds + 1,
        built_at = excluded.built_at, as_of = excluded.as_of
{%- endmacro %}

{#- lead_stages' post-hook: its date, its stage definitions' hash and the history's count of builds -#}
{% macro record_lead_stages_build() -%}
    insert into {{ stage_builds() }} (model, history_builds, rules_hash, built_at, as_of)
    select
        '{{ this.name }}', coalesce(max(history.history_builds), 0),
        {{ rules_hash([ref('lead_stage_definitions')]) }}, now(), {{ as_of() }}
    from {{ stage_builds() }} as history
    where history.model = '{{ ref("lead_stage_history").identifier }}'
    on conflict (model) do update set history_builds = excluded.history_builds,
        rules_hash = excluded.rules_hash, built_at = excluded.built_at, as_of = excluded.as_of
{%- endmacro %}

{#- Whether this build of lead_stages can build on its last build (see above); false when it
    must read the whole history: a first build or a full refresh, a
    rerun of the same day or a backfill of an earlier one, changed stage definitions, or a history
    built more than once since (another date's rows, a day's build that stopped before
    lead_stages) or holding rows between the two dates (from before a backfill). Read when the
    model is compiled. -#}
{% macro lead_stages_keeps_last_build() -%}
    {#- (`this` is none in a dbt unit test) -#}
    {%- if not execute or this is none or flags.FULL_REFRESH -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if adapter.get_relation(this.database, this.schema, this.identifier) is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select 1
        from {{ stage_builds() }} as kept
        inner join {{ stage_builds() }} as history
            on history.model = '{{ ref("lead_stage_history").identifier }}'
        where
            kept.model = '{{ this.name }}'
            and kept.as_of < {{ as_of() }}
            and kept.rules_hash = {{ rules_hash([ref('lead_stage_definitions')]) }}
            and history.as_of = {{ as_of() }}
            and history.history_builds = kept.history_builds + 1
            and not exists (
                select from {{ ref('lead_stage_history') }} as changes
                where changes.entered_at > kept.as_of and changes.entered_at < {{ as_of() }}
            )
    {%- endset -%}
    {{ return(run_query(query).rows | length > 0) }}
{%- endmacro %}

{#- lead_stages' relation, for lead_stage_history, which is built before it (a ref would be a
    cycle); none before the project is parsed -#}
{% macro lead_stages_relation() -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.name == 'lead_stages' and node.package_name == project_name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#- Whether this build of lead_stage_history can take each contact's latest earlier stage from the
    last lead_stages (one row per contact) instead of its own rows, all of them (1.5–2 s at 1 M
    contacts after two days; more every day): when lead_stages was built as of an earlier date,
    with the same stage definitions, after the history's last build, and the history holds
    nothing after that date. Then lead_stages holds the stage that each contact it staged has in
    its latest row. False on a first build or a full refresh, a rerun of a day, a backfill, or
    when the history was built since without lead_stages (a build that stopped between them). -#}
{% macro lead_stage_history_keeps_last_stages() -%}
    {%- if not execute or this is none or flags.FULL_REFRESH or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stages = lead_stages_relation() -%}
    {%- if stages is none
        or adapter.get_relation(stages.database, stages.schema, stages.identifier) is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select 1
        from {{ stage_builds() }} as kept
        inner join {{ stage_builds() }} as history on history.model = '{{ this.name }}'
        where
            kept.model = 'lead_stages'
            and kept.as_of < {{ as_of() }}
            and kept.rules_hash = {{ rules_hash([ref('lead_stage_definitions')]) }}
            and kept.history_builds = history.history_builds
            and not exists (select from {{ this }} as changes where changes.entered_at > kept.as_of)
    {%- endset -%}
    {{ return(run_query(query).rows | length > 0) }}
{%- endmacro %}
