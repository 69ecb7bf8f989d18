{#- Every distinct interaction (a record re-sent by its source counts once) with the contact it
    belongs to, found through the first key that names exactly one contact: the source record it
    cites, the CRM id, the email, the cookie. -#}
with

interactions as (
    select distinct on (source_system, source_interaction_id) *
    from {{ ref('stg_feed__interactions') }}
    order by source_system asc, source_interaction_id asc, loaded_at desc
),

origins as (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

keys as (
    select * from {{ ref('int_identity_keys') }}
),

origin_contacts as (
    select
        origins.source_system,
        origins.source_record_id,
        current_contacts.contact_id
    from origins
    inner join current_contacts on origins.origin_key = current_contacts.origin_key
),

key_contacts as (
    -- a key held by several contacts (a blocked generic address) resolves nothing
    select
        keys.key_type,
        keys.key_value,
        min(current_contacts.contact_id) as contact_id
    from keys
    inner join current_contacts on keys.origin_key = current_contacts.origin_key
    group by keys.key_type, keys.key_value
    having count(distinct current_contacts.contact_id) = 1
),

resolved as (
    select
        interactions.*,
        coalesce(
            by_record.contact_id, by_crm_id.contact_id, by_email.contact_id, by_cookie.contact_id
        ) as contact_id,
        case
            when by_record.contact_id is not null then 'source_record_id'
            when by_crm_id.contact_id is not null then 'crm_id'
            when by_email.contact_id is not null then 'email'
            when by_cookie.contact_id is not null then 'cookie_id'
        end as resolved_by
    from interactions
    left join origin_contacts as by_record
        on
            interactions.source_system = by_record.source_system
            and interactions.source_record_id = by_record.source_record_id
    left join key_contacts as by_crm_id
        on by_crm_id.key_type = 'crm_id' and interactions.crm_id = by_crm_id.key_value
    left join key_contacts as by_email
        on by_email.key_type = 'email' and interactions.email_key = by_email.key_value
    left join origin_contacts as by_cookie
        on
            interactions.source_system = by_cookie.source_system
            and 'cookie:' || interactions.cookie_id = by_cookie.source_record_id
)

select * from resolved  -- noqa: AM04
