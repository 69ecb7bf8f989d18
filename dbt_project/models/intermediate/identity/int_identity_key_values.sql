{#- Every identifying key value of every origin, one row per origin and key (int_identity_keys adds
    the rules of its key type).

    Incremental: a run takes the origins int_identity_origins wrote since this table's newest
    identity_build. The pre-hook first logs their old keys in intermediate.identity_key_changes
    and deletes them (an origin may have lost one, or all), each in one statement that reads the
    newest build before the delete; the select then skips origins that still have keys here, so a
    build that deleted every row of its newest build cannot read an origin twice. The post-hook
    logs the keys written (macros/identity_changes.sql: the models downstream redo what the
    logged values reach). -#}
{#- the index of identity_build: every incremental build starts from the newest (a scan of 3.8 M
    keys at L without it); created by a post-hook, so tables built before it get it too -#}
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
            "{{ ensure_index('build', '(identity_build)') }}",
        ],
        indexes=[{"columns": ["origin_key"]}, {"columns": ["key_type", "key_value"]}, {"columns": ["node_id"]}],
    )
}}

with

origins as (
    select all_origins.* from {{ ref('int_identity_origins') }} as all_origins
    {%- if is_incremental() %}
        -- those written since this table's newest build, without keys here (the pre-hook deleted them)
        where
            all_origins.identity_build > (
                select coalesce(max(this.identity_build), 0) from {{ this }} as this
            )
            and not exists (
                select from {{ this }} as this
                where this.origin_key = all_origins.origin_key
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
