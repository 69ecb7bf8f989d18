{#- The contact each CRM id and email key belongs to, for keys exactly one contact holds (a key
    several contacts hold — a blocked generic address — names nobody). Interactions and
    opportunities find their contact through it.

    Incremental (delete+insert on the key): a key's owner changes only when an origin gains or
    loses it, or when an origin holding it moves to another contact. A build redoes the key values
    int_identity_key_values logged since its last build (every value the changed origins held
    before or hold now: macros/identity_changes.sql) and every key the contacts int_contact_changes
    logged since hold (the ledger logs both contacts of a moved origin); a key that no longer has
    exactly one contact loses its row (the post-hook). Everything without a watermark, with changed
    identity rules, after a full refresh of the origins, or with no contact watermark yet. -#}
{%- set everything = identity_builds_everything() %}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["key_type", "key_value"],
        on_schema_change="fail",
        pre_hook="{{ key_owners_scope_pre_hook() }}",
        post_hook=[
            "{{ identity_post_hook(key_owners_scope()) }}",
            "{{ record_watermark() }}",
            "{{ ensure_index('key', '(key_type, key_value)', unique=true) }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_identity_key_values') }}
with

keys as (
    {%- if everything %}
        select * from {{ ref('int_identity_keys') }}
        where key_type in ('crm_id', 'email')
    {%- else %}
        -- the keys to redo (CRM ids and emails only), each looked up by the key values' index: a
        -- semi join hashed all 2.4 M CRM ids and emails at L, 1.5 s warm for 18 k keys (0.4 s so)
        select keys.*
        from {{ identity_scope('redo_keys') }} as redo
        cross join lateral (
            select held.* from {{ ref('int_identity_keys') }} as held
            where held.key_type = redo.key_type and held.key_value = redo.key_value
            offset 0  -- noqa: AM09
        ) as keys
    {%- endif %}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
)

select
    keys.key_type,
    keys.key_value,
    min(current_contacts.contact_id) as contact_id
from keys
inner join current_contacts on keys.origin_key = current_contacts.origin_key
group by keys.key_type, keys.key_value
having count(distinct current_contacts.contact_id) = 1
