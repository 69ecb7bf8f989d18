{#- Every identifying key of every origin (one row per origin and key, int_identity_key_values),
    with the rules of its key type (seed identity_key_rules). A view: the values are kept
    incrementally, the rules apply as they are now (a changed seed needs no rebuild). -#}
{{ config(materialized="view") }}

with

key_values as (
    select * from {{ ref('int_identity_key_values') }}
),

rules as (
    select * from {{ ref('identity_key_rules') }}
)

select
    key_values.node_id,
    key_values.origin_key,
    key_values.origin_type,
    key_values.name_key,
    key_values.identity_build,
    key_values.key_type,
    key_values.key_value,
    rules.priority,
    rules.identifies_person,
    rules.is_shareable,
    rules.one_per_contact,
    rules.identifies_person and not rules.is_shareable as links_origins
from key_values
inner join rules on key_values.key_type = rules.key_type
