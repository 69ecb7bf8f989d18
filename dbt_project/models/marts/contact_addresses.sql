{#- Every email address and phone number of every known contact, with its consent, usability and
    which one is the best (used by dim_contacts and the transfers). -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{ config(indexes=[{'columns': ['contact_id']}, {'columns': ['address']}]) }}
with

addresses as (
    select * from {{ ref('int_contact_addresses') }}
),

contacts as (
    select contact_id from {{ ref('dim_contacts') }}
)

select
    -- ids
    addresses.contact_id,
    addresses.channel,
    addresses.address,

    -- consent and usability
    addresses.permission,
    addresses.is_usable,
    addresses.is_shared,
    addresses.is_best,
    addresses.has_unsubscribed,

    -- provenance
    cast(addresses.number_of_origins as integer) as number_of_origins,
    addresses.source_priority,

    -- timestamps
    addresses.permission_stated_at,
    addresses.last_bounced_at,
    addresses.last_seen_at
from addresses
inner join contacts on addresses.contact_id = contacts.contact_id
