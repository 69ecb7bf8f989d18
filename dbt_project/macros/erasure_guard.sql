{#- Erasures and builds do not overlap. A model's build reads, then writes what it read; an erasure
    (`leadflow forget`, plugins/leadflow/erasure.py) that commits in between deletes the person's
    rows from the tables, and the build then writes back what it computed from them, where nothing
    would rebuild it again (the person's sources are gone too, so no later change names them).

    So every model's transaction first takes this lock shared (a project-wide pre-hook: builds run
    side by side), and an erasure takes it exclusively for its whole transaction: it waits for the
    builds in progress to commit, and builds starting meanwhile wait for it. Landing a load takes
    it shared too, before it takes out the suppressed records, as do a transfer's selection and
    each of its batches (plugins/leadflow/erasure.py). The key is the same expression on both
    sides (leadflow.erasure.ERASURE_LOCK). -#}
{% macro erasure_guard() -%}
    select pg_advisory_xact_lock_shared(hashtext('leadflow.erasure'))
{%- endmacro %}
