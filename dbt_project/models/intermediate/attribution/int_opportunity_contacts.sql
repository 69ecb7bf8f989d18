{#- Which contacts each opportunity is counted for, kept between runs so campaign_attribution can
    redo only the opportunities whose contacts or versions changed: the contact owning the CRM id
    it names, else (no CRM id, or one no contact owns) every contact of its account. One row per
    opportunity and contact (contact_id null: no contact), with the latest version's creation date
    and amount.

    Every build works out the contacts of every opportunity (a join of the opportunities with the
    CRM ids' owners and the accounts' members: a few seconds at 1 M contacts, far less than their
    touches), compares each opportunity's contacts and version with the table's, and writes only
    the opportunities that differ, stamped with the build's number (link_build, from a sequence of
    its own). A contact that left or joined an account is found so too, whatever logged it. -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["source_system", "opportunity_id"],
        on_schema_change="fail",
        post_hook=[
            "{{ ensure_index('opportunity', '(source_system, opportunity_id)') }}",
            "{{ ensure_index('contact_id', '(contact_id)') }}",
            "{{ ensure_index('link_build', '(link_build)') }}",
        ],
    )
}}

with

-- (named more than once on an incremental build: materialised once)
opportunities as (
    select distinct on (source_system, opportunity_id) *
    from {{ ref('stg_feed__opportunities') }}
    order by source_system asc, opportunity_id asc, loaded_at desc
),

crm_contacts as (
    select
        key_value as crm_id,
        contact_id
    from {{ ref('int_contact_key_owners') }}
    where key_type = 'crm_id'
),

contact_accounts as (
    select * from {{ ref('int_contact_accounts') }}
),

{% if is_incremental() %}

    -- the opportunities to write: those whose contacts or version differ from the table's;
    -- each opportunity's contacts as a count and a sum of 64-bit hashes, and its version: a
    -- changed contact or version changes them (a collision is a chance of 1 in 2^64); hash
    -- aggregates over the links, where comparing the rows themselves sorted or hashed them all
    current_digests as (
        select
            links.source_system,
            links.opportunity_id,
            count(*) as contacts,
            sum(hashtextextended(links.contact_id, 0)) as digest
        from ({{ opportunity_links('opportunities') }}) as links
        group by links.source_system, links.opportunity_id
    ),

    previous_digests as (
        select
            source_system,
            opportunity_id,
            count(contact_id) as contacts,
            coalesce(sum(hashtextextended(contact_id, 0)), 0) as digest,
            max(created_at) as created_at,
            max(amount) as amount
        from {{ this }}
        group by source_system, opportunity_id
    ),

    changed as (
        select opportunities.*
        from opportunities
        left join current_digests
            on
                opportunities.source_system = current_digests.source_system
                and opportunities.opportunity_id = current_digests.opportunity_id
        left join previous_digests
            on
                opportunities.source_system = previous_digests.source_system
                and opportunities.opportunity_id = previous_digests.opportunity_id
        where
            previous_digests.opportunity_id is null
            or coalesce(current_digests.contacts, 0) <> previous_digests.contacts
            or coalesce(current_digests.digest, 0) <> previous_digests.digest
            or opportunities.created_at is distinct from previous_digests.created_at
            or opportunities.amount is distinct from previous_digests.amount
    ),

{% else %}

    -- a first or full build: every opportunity
    changed as (
        select * from opportunities
    ),

{% endif %}

final as (
    select
        -- ids
        written.source_system,
        written.opportunity_id,
        links.contact_id,

        -- the version counted
        written.created_at,
        written.amount,

        -- the build that wrote the opportunity's rows
        (select nextval('{{ opportunity_link_builds_sequence() }}')) as link_build
    from changed as written
    -- an opportunity nobody is linked to keeps a row (contact_id null)
    left join ({{ opportunity_links('changed') }}) as links
        on
            written.source_system = links.source_system
            and written.opportunity_id = links.opportunity_id
)

select * from final
