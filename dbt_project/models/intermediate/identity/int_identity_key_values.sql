{#- Every identifying key value of every origin, one row per origin and key (int_identity_keys adds
    the rules of its key type).

    Incremental: a run takes the origins whose keys (or name key, type, first_seen_at) changed
    since its watermark (int_identity_origins' keys_changed_build; the newest identity_build it
    consumed, in intermediate.identity_watermarks): an origin written again for a new visit or job
    title keeps its key rows, so nothing downstream redoes the values it holds. The pre-hook lists
    those origins (in a temporary table the select reads), logs their old keys in
    intermediate.identity_key_changes and deletes them (an origin may have lost one, or all); the
    post-hook logs the keys written (macros/identity_changes.sql: the models downstream redo what
    the logged values reach) and moves the watermark. -#}
{#- the index of identity_build: a table from before the watermark starts from its newest build
    (a scan of 3.8 M keys at L without it); created by a post-hook, so tables built before it get
    it too -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="append",
        on_schema_change="fail",
        pre_hook=[
            "{{ identity_key_values_pre_hook() }}",
        ],
        post_hook=[
            "{{ identity_key_values_post_hook() }}",
            "{{ record_identity_watermark('identity_build', ref('int_identity_origins'), 'cast(null as text)') }}",
            "{{ ensure_index('build', '(identity_build)') }}",
        ],
        indexes=[{"columns": ["origin_key"]}, {"columns": ["key_type", "key_value"]}, {"columns": ["node_id"]}],
    )
}}

with

origins as (
    select all_origins.* from {{ ref('int_identity_origins') }} as all_origins
    {%- if is_incremental() %}
        -- those whose keys changed since the watermark (the pre-hook listed them and deleted their keys)
        where all_origins.origin_key in (
            select changed.origin_key from {{ identity_scope('changed_origins') }} as changed
        )
    {%- endif %}
),

key_values as (
    select
        origins.node_id,
        origins.origin_key,
        origins.origin_type,
        origins.name_key,
        origins.identity_build,
        k.key_type,
        k.key_value
    from origins
    cross join
        lateral (
            values
            ('crm_id', origins.crm_id),
            ('email', origins.email_key),
            ('phone', origins.phone),
            ('cookie_id', origins.cookie_id)
        ) as k (key_type, key_value)
    where k.key_value is not null
)

select * from key_values
