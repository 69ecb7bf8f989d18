-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- contact_origins' post-hook, before its watermark moves: the contacts logged as 'visited' or
    'seen' alone (a cookie had new interactions naming no email: its first_seen_at and updated_at
    moved, nothing it supplies or matches on; int_contact_changes) and not in the rebuild set get
    those two times of their origins again, from int_identity_origins as the model shows them.
    Rebuilding them redid every origin's keys, match and supplied attributes for two timestamps:
    about 20 k of the 42 k contacts a day at L. Rows whose times stand are not written. Lookups by
    index (laterals kept apart by "offset 0"), as in the model's rebuild. Incremental builds only:
    a first or full build computed every row from the current data (as dim_contacts' update of
    interactions, macros/rebuild_sets.sql). -#}
{% macro contact_origins_visits_update() -%}
    {%- if is_incremental() %}
    update {{ this }} as shown
    set
        first_seen_at = origins.first_seen_at,
        updated_at = origins.updated_at
    from (
        select distinct changes.contact_id
        from {{ ref('int_contact_changes') }} as changes
        where {{ logged_outside_rebuild_set('int_contact_changes', reasons=['visited', 'seen']) }}
    ) as visited
    cross join
        lateral (
            select current_contacts.origin_key from {{ ref('int_contact_origins_current') }} as current_contacts
            where current_contacts.contact_id = visited.contact_id
            offset 0  -- noqa: AM09
        ) as current_contacts
    cross join
        lateral (
            select
                origins.source_system,
                origins.source_record_id,
                origins.first_seen_at,
                origins.updated_at
            from {{ ref('int_identity_origins') }} as origins
            where origins.origin_key = current_contacts.origin_key
            offset 0  -- noqa: AM09
        ) as origins
    where
        shown.source_system = origins.source_system
        and shown.source_record_id = origins.source_record_id
        and shown.contact_id = visited.contact_id
        and (
            shown.first_seen_at is distinct from origins.first_seen_at
            or shown.updated_at is distinct from origins.updated_at
        )
    {%- endif %}
{%- endmacro %}
