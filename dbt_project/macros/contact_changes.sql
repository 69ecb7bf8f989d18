-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- Per-contact incremental builds: a model whose rows each belong to one contact rebuilds, on an
    incremental run, only the contacts something changed for, instead of every contact.

    - int_contact_changes is the log of what changed: each build of it appends the contacts the
      identity build touched, under a new change_sequence (see the model).
    - Each per-contact model keeps a watermark in intermediate.contact_change_watermarks: the last
      change_sequence it consumed, when, and a hash of the seeds it applies.
    - Incremental run (delete+insert on contact_id): its SQL selects the rows of the logged
      contacts only (`where {{ rebuild_filter('contact_id') }}`), and may add contacts for reasons
      of its own; dbt replaces those contacts' rows; the post-hooks of
      `contact_rebuild_post_hook()` then
        1. log the contacts it rebuilt for a reason of its own, so models downstream rebuild them,
        2. delete the rows of logged contacts it wrote none for (those not written by this
           transaction: xmin), and
        3. move its watermark.
      All in the model's one transaction: a failed build leaves rows and watermark as they were.
    - Everything is rebuilt when the model has no watermark, or when a seed it applies changed
      (`rules`: the seeds' relations, hashed, with `settings`: the vars it applies, if any).
    - The watermark also keeps the run's logical date (as_of), for models whose rows depend on it
      (int_contact_engagement_points).
    A full refresh builds every contact and sets the watermark. -#}

{% macro contact_change_watermarks() -%}
    {{ generate_schema_name('intermediate', none) }}.contact_change_watermarks
{%- endmacro %}

{#- on-run-start: the watermark table (in the project's intermediate schema, not a model: it is
    written by the models' post-hooks) -#}
{% macro create_contact_change_watermarks() -%}
    create schema if not exists {{ generate_schema_name('intermediate', none) }};
    {{ create_watermark_table(contact_change_watermarks(), 'change_sequence') }}
{%- endmacro %}

{#- a watermark table: per model, the last `sequence_column` it consumed, a hash of its rules and
    when (also intermediate.identity_watermarks, macros/identity_changes.sql) -#}
{% macro create_watermark_table(relation, sequence_column) -%}
    create table if not exists {{ relation }} (
        model text primary key,
        {{ sequence_column }} bigint not null,
        rules_hash text,
        built_at timestamptz not null,
        as_of timestamptz
    );
    -- (tables created before as_of was kept)
    alter table {{ relation }} add column if not exists as_of timestamptz
{%- endmacro %}

{#- md5 of the seeds' rows, in a stable order (and of `settings`, the vars applied, as JSON): a
    changed rule rebuilds every contact -#}
{% macro rules_hash(rules, settings=none) -%}
    {%- if rules or settings -%}
        (select md5(string_agg(r.row_text, '|' order by r.row_text)) from (
        {%- for rule in rules %}
            select '{{ loop.index }}:' || t::text as row_text from {{ rule }} as t
            {%- if not loop.last or settings %} union all{% endif %}
        {%- endfor %}
        {%- if settings %}
            select 'settings:' || '{{ tojson(settings, sort_keys=true) | replace("'", "''") }}' as row_text
        {%- endif %}
        ) as r)
    {%- else -%}
        cast(null as text)
    {%- endif -%}
{%- endmacro %}

{#- the rows of this model that the current transaction wrote -#}
{% macro written_here() -%}
    xmin = pg_current_xact_id()::xid
{%- endmacro %}

{#- The same rows as a relation to read: on an incremental build by append, delete+insert or
    rebuild_set, the rows the strategy inserted (the view its SQL leaves in this transaction:
    written_rows_view()); otherwise (a first or full build, other strategies) this model's rows
    filtered by written_here(), which reads the whole table (fct_interactions: 11 M rows, 2-4 s a
    day at L, to find 110 k). Rendered in post-hooks, which dbt renders when they run, after the
    strategy's SQL. -#}
{% macro rows_written_here() -%}
    {%- set view = written_rows_view_name() -%}
    {#- (created by this transaction: not a view an earlier build left in the same session) -#}
    {%- set found = run_query(
        "select exists (select from pg_class where oid = to_regclass('" ~ view ~ "')"
        ~ " and xmin = pg_current_xact_id()::xid)"
    ) if execute else none -%}
    {%- if found and found.columns[0].values()[0] -%}
        {{ view }}
    {%- else -%}
        (select * from {{ this }} where {{ written_here() }})
    {%- endif -%}
{%- endmacro %}

{#- a temporary view of the rows an incremental strategy inserts (its temporary relation, which
    lives until the session ends or dbt drops it, the view with it) -#}
{% macro written_rows_view(temp_relation) -%}
    drop view if exists {{ written_rows_view_name() }};
    create temporary view {{ written_rows_view_name() }} as select * from {{ temp_relation }}
{%- endmacro %}

{% macro written_rows_view_name() -%}
    pg_temp.{{ adapter.quote(this.name ~ "__written") }}
{%- endmacro %}

{#- dbt's append, leaving the view of the rows it inserted (rows_written_here()) -#}
{% macro get_incremental_append_sql(arg_dict) -%}
    {#- (the view first: dbt reports the last statement's rows, the insert's) #}
    {{ written_rows_view(arg_dict["temp_relation"]) }};
    {{ default__get_incremental_append_sql(arg_dict) }}
{%- endmacro %}

{#- dbt's delete+insert, leaving the view of the rows it inserted (rows_written_here()) -#}
{% macro get_incremental_delete_insert_sql(arg_dict) -%}
    {#- (the view first: dbt reports the last statement's rows, the insert's) #}
    {{ written_rows_view(arg_dict["temp_relation"]) }};
    {{ default__get_incremental_delete_insert_sql(arg_dict) }}
{%- endmacro %}

{#- true when every contact must be rebuilt: no watermark yet, or a changed seed -#}
{% macro everything_changed(rules=[], settings=none) -%}
    not exists (
        select from {{ contact_change_watermarks() }} as w
        where w.model = '{{ this.name }}' and w.rules_hash is not distinct from {{ rules_hash(rules, settings) }}
    )
{%- endmacro %}

{#- The logical date this model's last build was as of, as an SQL literal, when it is not after
    this build's (none: no watermark or date yet, or a backfill of an earlier day). Read when the
    model is compiled, so the plan knows the dates it filters by. -#}
{% macro contact_watermark_as_of() -%}
    {#- (`this` is none in a dbt unit test) -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select cast(w.as_of as text) from {{ contact_change_watermarks() }} as w
        where w.model = '{{ this.name }}' and w.as_of <= {{ as_of() }}
    {%- endset -%}
    {%- set rows = run_query(query).columns[0].values() -%}
    {{ return("cast('" ~ rows[0] ~ "' as timestamptz)" if rows else none) }}
{%- endmacro %}

{#- this model's last consumed change_sequence (-1: none) -#}
{% macro consumed_sequence() -%}
    coalesce((
        select w.change_sequence from {{ contact_change_watermarks() }} as w
        where w.model = '{{ this.name }}'
    ), -1)
{%- endmacro %}

{#- the contacts logged since this model's last build: by the log's build, and by the models
    named in `upstream` (for their own reasons). Never those whose only change is a cookie's visit
    ('visited': its timestamps moved, nothing it supplies; contact_origins, which shows them, sets
    them by an update: macros/origin_visits.sql; 'seen': the same for a cookie holding an email,
    which int_contact_addresses rebuilds and logs for the others as it finds them);
    fct_interactions logs the contacts of new interactions apart. `restated`: with the contacts a
    model logged as 'restated' (rows written again that changed only in what one reader shows;
    macros/address_changes.sql), for that reader. -#}
{% macro contacts_to_rebuild(upstream=[], restated=true) -%}
    select changes.contact_id
    from {{ ref('int_contact_changes') }} as changes
    where
        changes.change_sequence > {{ consumed_sequence() }}
        and changes.contact_id is not null
        and changes.logged_by in ('int_contact_changes'{% for model in upstream %}, '{{ model }}'{% endfor %})
        and changes.reason not in ('visited', 'seen')
        {%- if not restated %}
        and changes.reason <> 'restated'
        {%- endif %}
{%- endmacro %}

{#- the filter of the log's rows (as `changes`) logged since this model's last build by
    `logged_by` (with one of `reasons`, when given) -#}
{% macro logged_since_last_build(logged_by, reasons=none) -%}
    changes.change_sequence > {{ consumed_sequence() }}
    and changes.contact_id is not null
    and changes.logged_by = '{{ logged_by }}'
    {%- if reasons %}
    and changes.reason in ('{{ reasons | join("', '") }}')
    {%- endif %}
{%- endmacro %}

{#- the same, for contacts outside this model's rebuild set: the rows a post-hook updates in place
    rather than rebuilds (dim_contacts_interactions_update(), contact_origins_visits_update()) -#}
{% macro logged_outside_rebuild_set(logged_by, reasons=none) -%}
    {{ logged_since_last_build(logged_by, reasons) }}
    and not exists (
        select from {{ rebuild_set() }} as rebuilt
        where rebuilt.contact_id = changes.contact_id
    )
{%- endmacro %}

{#- the filter of a build's rows: every contact (a full build, no watermark, a changed seed), or
    the logged ones -#}
{% macro rebuild_filter(column, rules=[], upstream=[]) -%}
    {%- if is_incremental() -%}
        ({{ everything_changed(rules) }} or {{ column }} in ({{ contacts_to_rebuild(upstream) }}))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The post-hook, up to four statements (not guarded by is_incremental(): dbt renders hooks
    after the build, when the table exists; on a full build they log and delete nothing, as every
    row was written by it). `log_own_for`: the models downstream that need the contacts this one
    rebuilt for reasons of its own (each names this one in its `upstream`, and depends on it, so
    their transactions do not overlap). A model whose incremental strategy is rebuild_set (below)
    deleted the rows of every contact it redoes already: no step 2. -#}
{% macro contact_rebuild_post_hook(rules=[], upstream=[], log_own_for=[], settings=none, restated=none) -%}
    {%- set hooks = [] -%}
    {%- if log_own_for -%}
        {#- 1. contacts rebuilt for a reason of this model's own (a seed changed, a change in a
               table that is not per contact): under a new sequence, after every watermark -#}
        {#- (a rebuild set's contacts too: one redone and left with no rows wrote none) -#}
        {%- set redone = "select rebuilt.contact_id from " ~ rebuild_set() ~ " as rebuilt"
            if config.get("incremental_strategy") == "rebuild_set" else none -%}
        {%- do hooks.append(
            log_contacts_written_here(log_own_for, contacts_to_rebuild(upstream), also=redone, restated=restated)
        ) -%}
    {%- endif -%}
    {#- 2. the rows of redone contacts that have none now (merged into another, no longer a
           contact, nothing left to count); delete+insert replaced the others (every previous
           row when everything was rebuilt) -#}
    {#- (two statements: the logged contacts' rows are looked up by contact, where one statement
        with "or every contact" scanned the whole table every day: 7 M rows of
        int_contact_attributes_survived at L, 1.4 s; when every contact was redone, the second) -#}
    {%- if config.get("incremental_strategy") != "rebuild_set" -%}
        {%- do hooks.append(
            "delete from " ~ this ~ " where contact_id in (" ~ contacts_to_rebuild(upstream) ~ ")"
            ~ " and not (" ~ written_here() ~ ")"
        ) -%}
        {%- do hooks.append(
            "delete from " ~ this ~ " where " ~ everything_changed(rules, settings) ~ " and not (" ~ written_here() ~ ")"
        ) -%}
    {%- endif -%}
    {#- 3. the watermark -#}
    {%- do hooks.append(record_watermark(rules, settings)) -%}
    {{ hooks | join(";\n") }}
{%- endmacro %}

{#- Log the contacts of the rows this transaction wrote to this model (xmin), but for those the
    query `already` returns, under a new sequence (models built earlier in the run see them next
    run; a model that reads them must be downstream of this one). `columns`: the rows' columns
    naming a contact (e.g. also the one a row named before). `changed_from`: an expression over the
    rows' columns, the earliest time a row changed something at (its contacts' changed_from is the
    earliest of their rows'; null, the default: any time). Only once one of `readers` (the models
    that read these rows) has a watermark: before, their first build takes every contact anyway
    (and a first build here would log every contact for nothing). `also`: a query of more contacts
    to log (contact_id, any time), e.g. a rebuild set, whose contacts left with no rows wrote none.
    `restated`: a query of the contacts among them to log as 'restated' rather than 'rebuilt' (their
    rows changed only in what some readers do not read; those pass restated=false to
    contacts_to_rebuild()). `appended`: a query of the contacts to log as 'appended' (all their
    rows written are new ones; fct_interactions, appended_contacts()). -#}
{% macro log_contacts_written_here(
    readers,
    already="select null::text as contact_id where false",
    columns=['contact_id'],
    changed_from=none,
    also=none,
    restated=none,
    appended=none
) -%}
    {%- set changes = ref('int_contact_changes') -%}
    insert into {{ changes }} (change_sequence, contact_id, reason, logged_by, changed_from)
    select
        (select max(change_sequence) + 1 from {{ changes }}),
        written.contact_id,
        {%- if restated or appended %}
        case
            {%- if restated %}
            when restated.contact_id is not null then 'restated'
            {%- endif %}
            {%- if appended %}
            when appended.contact_id is not null then 'appended'
            {%- endif %}
            else 'rebuilt'
        end,
        {%- else %}
        'rebuilt',
        {%- endif %}
        '{{ this.name }}',
        written.changed_from
    from (
        select
            named.contact_id,
            -- a row without a time: any time
            case when not bool_or(named.changed_from is null) then min(named.changed_from) end as changed_from
        from (
            select
                named_by_row.contact_id,
                rows_written.changed_from
            from (
                select
                    {{ columns | join(', ') }},
                    {{ changed_from or 'null' }}::timestamptz as changed_from
                from {{ rows_written_here() }} as written_rows
            ) as rows_written
            cross join
                lateral (values (rows_written.{{ columns | join('), (rows_written.') }})) as named_by_row (contact_id)
            {%- if also %}
            union all
            select
                more.contact_id,
                null::timestamptz as changed_from
            from ({{ also }}) as more
            {%- endif %}
        ) as named
        where named.contact_id is not null
        group by named.contact_id
    ) as written
    left join ({{ already }}) as already on written.contact_id = already.contact_id
    {%- if restated %}
    left join ({{ restated }}) as restated on written.contact_id = restated.contact_id
    {%- endif %}
    {%- if appended %}
    left join ({{ appended }}) as appended on written.contact_id = appended.contact_id
    {%- endif %}
    where
        already.contact_id is null
        and exists (
            select from {{ contact_change_watermarks() }} as w
            where w.model in ('{{ readers | join("', '") }}')
        )
{%- endmacro %}

{#- The watermark of this model: the log's newest sequence, the seeds' hash, the time, the run's
    logical date -#}
{% macro record_watermark(rules=[], settings=none) -%}
    insert into {{ contact_change_watermarks() }} (model, change_sequence, rules_hash, built_at, as_of)
    select '{{ this.name }}', coalesce(max(change_sequence), 0), {{ rules_hash(rules, settings) }}, now(), {{ as_of() }}
    from {{ ref('int_contact_changes') }}
    on conflict (model) do update set change_sequence = excluded.change_sequence,
        rules_hash = excluded.rules_hash, built_at = excluded.built_at, as_of = excluded.as_of
{%- endmacro %}

{#- The loads the log read since this model's last build, as an array (load_id = any(...) reaches
    the raw tables' scans) -#}
{% macro loads_read_since_last_build() -%}
    array({{ loads_read_since_last_build_query() }})
{%- endmacro %}

{% macro loads_read_since_last_build_query() -%}
    select changes.load_id
    from {{ ref('int_contact_changes') }} as changes
    where changes.change_sequence > {{ consumed_sequence() }} and changes.reason = 'load read'
{%- endmacro %}

{#- incremental_strategy="rebuild_set", for a per-contact model with a rebuild set
    (macros/rebuild_sets.sql): dbt's delete+insert, but deleting the rows of every key in the
    rebuild set rather than of those the build wrote rows for. A redone contact left with no rows
    (merged into another, nothing left in its window) so loses them in the same statement; a
    post-hook found those by scanning the whole table (1.7 s a day for each windowed model at L).
    The key is the model's unique_key: contact_id (every row of a redone contact is replaced), or
    a list starting with it, such as ["contact_id", "rule"] where a day changes some of a contact's
    rows and the rebuild set names those (int_contact_engagement_points). -#}
{% macro get_incremental_rebuild_set_sql(arg_dict) -%}
    {%- set key = [arg_dict["unique_key"]] if arg_dict["unique_key"] is string else arg_dict["unique_key"] -%}
    {%- if not key or key[0] != "contact_id" -%}
        {%- do exceptions.raise_compiler_error(
            this.name ~ ": incremental_strategy rebuild_set needs unique_key=\"contact_id\" or a list starting with it"
        ) -%}
    {%- endif -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {{ written_rows_view(arg_dict["temp_relation"]) }};

    delete from {{ arg_dict["target_relation"] }} as previous
    where (previous.{{ key | join(', previous.') }}) in (
        select rebuilt.{{ key | join(', rebuilt.') }} from {{ rebuild_set() }} as rebuilt
    );

    insert into {{ arg_dict["target_relation"] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict["temp_relation"] }}
{%- endmacro %}

{#- fct_interactions' post-hook: the contacts all of whose rows it wrote are new ones
    (is_new_in_build) and that no rewritten row left, logged as 'appended': a model that keeps sums
    over interactions adds their new rows rather than counting them again -#}
{% macro appended_contacts() -%}
    select written.contact_id from {{ rows_written_here() }} as written
    where written.contact_id is not null
    group by written.contact_id
    having bool_and(written.is_new_in_build)
    except
    select left_by.previous_contact_id from {{ rows_written_here() }} as left_by
{%- endmacro %}
