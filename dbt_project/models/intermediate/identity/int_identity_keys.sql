{#- Every identifying key of every origin (one row per origin and key), with the rules of its key
    type (seed identity_key_rules). -#}
with

origins as (
    select * from {{ ref('int_identity_origins') }}
),

rules as (
    select * from {{ ref('identity_key_rules') }}
),

keys as (
    select
        origins.node_id,
        origins.origin_key,
        origins.origin_type,
        origins.name_key,
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

select
    keys.*,
    rules.priority,
    rules.identifies_person,
    rules.is_shareable,
    rules.one_per_contact,
    rules.identifies_person and not rules.is_shareable as links_origins
from keys
inner join rules on keys.key_type = rules.key_type
