{#- The contact each CRM id and email key belongs to, for keys exactly one contact holds (a key
    several contacts hold — a blocked generic address — names nobody). Interactions and
    opportunities find their contact through it. -#}
with

keys as (
    select * from {{ ref('int_identity_keys') }}
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
where keys.key_type in ('crm_id', 'email')
group by keys.key_type, keys.key_value
having count(distinct current_contacts.contact_id) = 1
