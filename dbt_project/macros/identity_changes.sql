-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- Incremental identity builds: blocking, edges and clustering redo only what the origins that
    changed can reach, instead of the whole graph.

    - int_identity_origins numbers its builds (identity_build) and writes only the origins a load
      changed, marking those whose keys, name key, type or first_seen_at changed
      (keys_changed_build); int_identity_key_values replaces the keys of those and logs, in
      intermediate.identity_key_changes, every key value they held before or hold now.
    - int_identity_keys_blocked redoes the logged key values (who holds a value decides whether
      it is blocked); int_identity_edges the edges of every origin whose keys changed or that
      holds a logged value; int_identity_clusters the components those origins were in and are
      in now (an origin whose first_seen_at changed is rewritten there: the id ledger reads it). Each
      keeps a watermark (intermediate.identity_watermarks: the last identity_build it consumed and
      a hash of its rules) written in its own transaction, so a failed build catches up.
    - A model without a watermark, with changed rules, or after a full refresh of the origins
      (every origin written again, under new node ids) builds everything. -#}

{% macro identity_watermarks() -%}
    {{ generate_schema_name('intermediate', none) }}.identity_watermarks
{%- endmacro %}

{#- the numbers of int_identity_origins' builds: a sequence, so a full refresh (or a rebuild after
    the table was dropped, as an erasure does) is numbered after every earlier build -#}
{% macro identity_builds_sequence() -%}
    {{ generate_schema_name('intermediate', none) }}.identity_builds
{%- endmacro %}

{#- the numbers of int_identity_clusters' builds (its rows' cluster_build; the id ledger's watermark) -#}
{% macro cluster_builds_sequence() -%}
    {{ generate_schema_name('intermediate', none) }}.identity_cluster_builds
{%- endmacro %}

{% macro identity_key_changes() -%}
    {{ generate_schema_name('intermediate', none) }}.identity_key_changes
{%- endmacro %}

{#- the origins a reader's build reaches, computed once for the readers that consumed the same
    builds (see identity_scope_pre_hook) -#}
{% macro identity_reached_nodes() -%}
    {{ generate_schema_name('intermediate', none) }}.identity_reached_nodes
{%- endmacro %}

{#- on-run-start: the two tables (written by hooks, not models) -#}
{% macro create_identity_change_tables() -%}
    create schema if not exists {{ generate_schema_name('intermediate', none) }};
    {{ create_watermark_table(identity_watermarks(), 'identity_build') }};
    create table if not exists {{ identity_key_changes() }} (
        identity_build bigint not null,
        key_type text not null,
        key_value text not null
    );
    create index if not exists identity_key_changes__build on {{ identity_key_changes() }} (identity_build);
    {#- (unlogged: a cache, emptied by a crash, which only makes the next reader compute it) #}
    create unlogged table if not exists {{ identity_reached_nodes() }} (
        consumed_build bigint not null,
        newest_build bigint not null,
        node_id bigint
    );
    create sequence if not exists {{ identity_builds_sequence() }};
    create sequence if not exists {{ cluster_builds_sequence() }}
{%- endmacro %}

{#- the rules' fingerprint: the identity seeds' rows and vars.identity (with the fuzzy rule's
    switch), the same for the three models (a rule blocking a key changes edges and clusters) -#}
{% macro identity_rules_hash() -%}
    {%- set settings = {"identity": var("identity"), "fuzzy_match": fuzzy_match_enabled()} -%}
    md5(
        coalesce({{ rules_hash([ref('identity_key_rules'), ref('identity_blocked_keys')]) }}, '')
        || '{{ tojson(settings) }}'
    )
{%- endmacro %}

{#- Whether this build takes everything (true on a first or full build; when run, also without a
    watermark, with changed rules, or when every origin was written since the watermark: a full
    refresh of int_identity_origins). Decided when the model is compiled, before it runs, so the
    query is planned for the path it takes. -#}
{% macro identity_builds_everything(always=false) -%}
    {#- (`this` is none in a dbt unit test, where the model builds from its mocked inputs) -#}
    {%- if always or not execute or this is none or not is_incremental() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set query -%}
        select not exists (
            select from {{ identity_watermarks() }} as w
            where
                w.model = '{{ this.name }}'
                and w.rules_hash = {{ identity_rules_hash() }}
                and w.identity_build >= (select min(o.identity_build) from {{ ref('int_identity_origins') }} as o)
        )
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{#- the last identity_build this model consumed (-1: none) -#}
{% macro identity_consumed_build() -%}
    coalesce((select w.identity_build from {{ identity_watermarks() }} as w where w.model = '{{ this.name }}'), -1)
{%- endmacro %}

{#- The scope of an incremental build, in temporary tables of its transaction that the pre-hook
    `identity_scope_pre_hook(scopes)` fills and analyzes (so the planner knows how few rows they
    hold and looks them up by index, instead of scanning every key):
    - `changed_keys`: the key values logged since this model's watermark (int_identity_keys_blocked);
    - `reached_nodes`: the origins whose keys changed since then, and every holder of a changed value (its
      hub, the value's lowest node, may have changed) (int_identity_edges, int_identity_clusters).
    The reached nodes are the same for every reader that consumed the same builds, which the
    models one after the other on the identity's single-threaded path normally did: the first
    computes them into intermediate.identity_reached_nodes under its watermark and the newest
    origins build (the holders' lookups, 0.7-0.9 s a day at L), the next copies them. The table
    keeps the last scope computed; int_identity_key_values' pre-hook empties it, as its keys may
    change. -#}
{% macro identity_scope(name) -%}
    pg_temp.{{ this.name }}__{{ name }}
{%- endmacro %}

{#- (the newest origins build, read from the index of identity_build) -#}
{% macro identity_newest_build() -%}
    (select max(o.identity_build) from {{ ref('int_identity_origins') }} as o)
{%- endmacro %}

{#- whether the reached nodes since this model's watermark are computed already (when rendered) -#}
{% macro identity_reached_nodes_shared() -%}
    {%- set query -%}
        select exists (
            select from {{ identity_reached_nodes() }} as shared
            where
                shared.consumed_build = {{ identity_consumed_build() }}
                and shared.newest_build = {{ identity_newest_build() }}
        )
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{% macro identity_scope_pre_hook(always=false, scopes=["changed_keys", "reached_nodes"]) -%}
    {%- if not identity_builds_everything(always) %}
        {%- set shared = "reached_nodes" in scopes and identity_reached_nodes_shared() %}
        {%- if "changed_keys" in scopes or not shared %}
            create temporary table {{ identity_scope('changed_keys') }} on commit drop as
            select distinct
                changes.key_type,
                changes.key_value
            from {{ identity_key_changes() }} as changes
            where changes.identity_build > {{ identity_consumed_build() }};
            analyze {{ identity_scope('changed_keys') }};
        {%- endif %}
        {%- if "reached_nodes" in scopes %}
            {%- if not shared %}
                {#- (a row without a node says the scope was computed: it may be empty) #}
                delete from {{ identity_reached_nodes() }};
                insert into {{ identity_reached_nodes() }} (consumed_build, newest_build, node_id)
                select {{ identity_consumed_build() }}, {{ identity_newest_build() }}, reached.node_id
                from (
                    select cast(null as bigint) as node_id
                    union all
                    (
                        select o.node_id
                        from {{ ref('int_identity_origins') }} as o
                        where {{ identity_keys_changed_after('o', identity_consumed_build()) }}
                        union
                        select keys.node_id
                        from {{ ref('int_identity_key_values') }} as keys
                        inner join {{ identity_scope('changed_keys') }} as changed
                            on keys.key_type = changed.key_type and keys.key_value = changed.key_value
                    )
                ) as reached;
            {%- endif %}
            create temporary table {{ identity_scope('reached_nodes') }} on commit drop as
            select shared.node_id
            from {{ identity_reached_nodes() }} as shared
            where
                shared.consumed_build = {{ identity_consumed_build() }}
                and shared.newest_build = {{ identity_newest_build() }}
                and shared.node_id is not null;
            analyze {{ identity_scope('reached_nodes') }};
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- post-hook: delete the rows of this build's scope (`scope`: a condition on the rows; every row
    when it built everything) that this transaction did not write, then move the watermark.
    `always`: this build takes everything whatever changed (int_identity_edges with the fuzzy rule). -#}
{% macro identity_post_hook(scope, always=false) -%}
    {%- if not identity_builds_everything(always) %}
        delete from {{ this }} where not ({{ written_here() }}) and ({{ scope }});
    {%- else %}
        delete from {{ this }} where not ({{ written_here() }});
    {%- endif %}
    {{ record_identity_watermark('identity_build', ref('int_identity_origins'), identity_rules_hash()) }}
{%- endmacro %}

{#- This model's row in identity_watermarks: the newest `build_column` of `relation` (0 when
    empty), the rules' hash, the time -#}
{% macro record_identity_watermark(build_column, relation, rules_hash) -%}
    insert into {{ identity_watermarks() }} (model, identity_build, rules_hash, built_at)
    select '{{ this.name }}', coalesce(max(built.{{ build_column }}), 0), {{ rules_hash }}, now()
    from {{ relation }} as built
    on conflict (model) do update set identity_build = excluded.identity_build,
        rules_hash = excluded.rules_hash, built_at = excluded.built_at
{%- endmacro %}

{#- Whether an origin's keys changed after `build`: it was written since, and what matching reads
    of it changed (keys_changed_build; null in rows from before that column: identity_build). The
    index of identity_build finds the origins written since. -#}
{% macro identity_keys_changed_after(origin, build) -%}
    {{ origin }}.identity_build > {{ build }}
    and coalesce({{ origin }}.keys_changed_build, {{ origin }}.identity_build) > {{ build }}
{%- endmacro %}

{#- whether any of `columns` differs between the rows `left` and `right` (nulls compared as values) -#}
{% macro columns_differ(left, right, columns) -%}
    (
        {%- for column in columns %}
            {{ left }}.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    ) is distinct from (
        {%- for column in columns %}
            {{ right }}.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- int_identity_origins: the keys_changed_build an origin written again keeps (`previous`: its row
    as it was). In a table from before that column, its identity_build: the rows written count as
    changed then, those not written stay null, which the readers take for identity_build. -#}
{% macro kept_keys_changed_build(previous) -%}
    {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
    {%- if "keys_changed_build" in columns | map(attribute="name") | list -%}
        coalesce({{ previous }}.keys_changed_build, {{ previous }}.identity_build)
    {%- else -%}
        {{ previous }}.identity_build
    {%- endif -%}
{%- endmacro %}

{#- int_identity_key_values' hooks. The pre-hook (rendered when it runs: is_incremental() is false
    on a first or full build) lists the origins whose keys changed since the model's watermark
    (or, in a table from before it, since its newest build), logs and deletes their old keys,
    prunes the log rows every reader has consumed, and notes whether this is a full build (the
    post-hook logs the keys written by an incremental build only: after a full build the readers
    build everything, or nothing changed). -#}
{% macro identity_key_values_pre_hook() -%}
    {%- set readers = [
        'int_identity_keys_blocked', 'int_identity_edges', 'int_identity_clusters', 'int_contact_key_owners'
    ] -%}
    {%- set changed_origins = identity_scope('changed_origins') -%}
    {%- set watermark -%}
        coalesce(
            (select w.identity_build from {{ identity_watermarks() }} as w where w.model = '{{ this.name }}'),
            (select coalesce(max(this.identity_build), 0) from {{ this }} as this)
        )
    {%- endset -%}
    create temporary table {{ this.name }}__build on commit drop as
    select {{ not is_incremental() }} as full_build;
    delete from {{ identity_reached_nodes() }};
    {%- if is_incremental() %}
        {#- (a table the planner knows the size of: the origins' keys are then looked up by index;
            with a condition on a subquery's max it guessed a third of all origins and hashed
            every key, 3.8 M at L, twice: 2.5 s a day, on the identity's single-threaded path) #}
        create temporary table {{ changed_origins }} on commit drop as
        select o.origin_key, o.identity_build from {{ ref('int_identity_origins') }} as o
        where {{ identity_keys_changed_after('o', watermark) }};
        analyze {{ changed_origins }};
        insert into {{ identity_key_changes() }} (identity_build, key_type, key_value)
        select changed.identity_build, this.key_type, this.key_value
        from {{ changed_origins }} as changed
        inner join {{ this }} as this on changed.origin_key = this.origin_key;
        delete from {{ this }} where origin_key in (select changed.origin_key from {{ changed_origins }} as changed);
        delete from {{ identity_key_changes() }}
        where identity_build <= (
            select case when count(*) = {{ readers | length }} then min(w.identity_build) end
            from {{ identity_watermarks() }} as w
            where w.model in ('{{ readers | join("', '") }}')
        );
    {%- endif %}
{%- endmacro %}

{#- (the keys written: those the strategy inserted, not a scan of every key, macros/contact_changes.sql) -#}
{% macro identity_key_values_post_hook() -%}
    insert into {{ identity_key_changes() }} (identity_build, key_type, key_value)
    select written.identity_build, written.key_type, written.key_value
    from {{ rows_written_here() }} as written
    where not (select b.full_build from pg_temp.{{ this.name }}__build as b)
{%- endmacro %}

{#- The id ledger's watermark: the newest int_identity_clusters build it read (the rows a build
    wrote carry its number, cluster_build; kept in identity_watermarks' identity_build column). None
    when the ledger reads every component: a first build, no watermark yet, or clustering rewrote
    every row since (a full refresh, a changed rule, the fuzzy rule); and in a dbt unit test, whose
    inputs are fixtures. Decided when compiled, so the query is planned for its path. -#}
{% macro ledger_consumed_cluster_build() -%}
    {%- if not execute or this is none or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select w.identity_build
        from {{ identity_watermarks() }} as w
        where
            w.model = '{{ this.name }}'
            and exists (
                select from {{ ref('int_identity_clusters') }} as c
                where c.cluster_build <= w.identity_build or c.cluster_build is null
            )
    {%- endset -%}
    {%- set rows = run_query(query).columns[0].values() -%}
    {{ return(rows[0] if rows else none) }}
{%- endmacro %}

{% macro record_ledger_watermark() -%}
    {{ record_identity_watermark('cluster_build', ref('int_identity_clusters'), 'cast(null as text)') }}
{%- endmacro %}

{#- int_contact_key_owners' scope: the keys (CRM ids and emails) whose owner it redoes, in a
    temporary table its pre-hook fills: the key values logged since its identity watermark, and
    the keys of every origin of the contacts int_contact_changes logged since its contact
    watermark (every key when it has none). -#}
{% macro key_owners_scope() -%}
    (key_type, key_value) in (select redo.key_type, redo.key_value from {{ identity_scope('redo_keys') }} as redo)
{%- endmacro %}

{% macro key_owners_scope_pre_hook() -%}
    {%- if not identity_builds_everything() %}
        create temporary table {{ identity_scope('redo_keys') }} on commit drop as
        select distinct
            keys.key_type,
            keys.key_value
        from (
            select
                changes.key_type,
                changes.key_value
            from {{ identity_key_changes() }} as changes
            where changes.identity_build > {{ identity_consumed_build() }}

            union all

            select
                key_values.key_type,
                key_values.key_value
            from {{ ref('int_contact_origins_current') }} as current_contacts
            inner join {{ ref('int_identity_key_values') }} as key_values
                on current_contacts.origin_key = key_values.origin_key
            where current_contacts.contact_id in ({{ contacts_to_rebuild() }})

            union all

            select
                key_values.key_type,
                key_values.key_value
            from {{ ref('int_identity_key_values') }} as key_values
            where {{ everything_changed() }}
        ) as keys
        where keys.key_type in ('crm_id', 'email');
        analyze {{ identity_scope('redo_keys') }};
    {%- endif %}
{%- endmacro %}
