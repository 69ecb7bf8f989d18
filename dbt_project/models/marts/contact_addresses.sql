{#- Every email address and phone number of every known contact, with its consent, usability and
    which one is the best (used by dim_contacts and the transfers). -#}
{#- Per contact incremental (macros/contact_changes.sql): a run rebuilds the contacts logged since
    its last build by the log and by int_contact_addresses (the holders of an address whose consent
    or sharing changed); dim_contacts gains or loses only logged contacts. -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{'columns': ['contact_id']}, {'columns': ['address']}],
        pre_hook="{{ rebuild_set_pre_hook(logged_contacts_rebuild(upstream=['int_contact_addresses'])) }}",
        post_hook=[
            "{{ contact_rebuild_post_hook(upstream=['int_contact_addresses']) }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
with

addresses as (
    select * from {{ ref('int_contact_addresses') }}
    where {{ in_rebuild_set('contact_id') }}
),

contacts as (
    select contact_id from {{ ref('dim_contacts') }}
    where {{ in_rebuild_set('contact_id') }}
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
