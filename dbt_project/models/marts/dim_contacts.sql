{#- The golden contact (best record): one row per known contact — a contact with at least one
    source record or email (a cookie that never filled a form is an anonymous visitor, not a
    contact). Attributes by survivorship, best address and consent from int_contact_addresses. -#}
{#- Per contact incremental (macros/contact_changes.sql): a run rebuilds the contacts logged in
    int_contact_changes since its last build (by int_contact_addresses too: best address and
    consent; by int_contact_accounts: the contacts whose account moved with their email domain's
    company): the rebuild set of dim_contacts_rebuild()
    (macros/rebuild_sets.sql). The contacts whose only news is interactions (logged by
    fct_interactions) get their first and last interaction by an update instead
    (dim_contacts_interactions_update()). A new column needs --full-refresh (on_schema_change:
    fail), not nulls in the rows kept. -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{'columns': ['email']}],
        pre_hook="{{ rebuild_set_pre_hook(dim_contacts_rebuild()) }}",
        post_hook=[
            "{{ dim_contacts_interactions_update() }}",
            "{{ contact_rebuild_post_hook(
                upstream=[
                    'fct_interactions', 'int_contact_addresses', 'int_contact_attributes_survived', 'int_contact_accounts'
                ]
            ) }}",
            "{{ ensure_unique_index(['contact_id']) }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
with

origins as (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

attributes as (
    select * from {{ ref('int_contact_attributes_survived') }}
),

addresses as (
    select * from {{ ref('int_contact_addresses') }}
),

accounts as (
    select * from {{ ref('int_contact_accounts') }}
),

best_addresses as (
    select
        contact_id,
        max(address) filter (where channel = 'email' and is_best) as email,
        max(permission) filter (where channel = 'email' and is_best) as email_permission,
        max(address) filter (where channel = 'phone' and is_best) as phone,
        max(permission) filter (where channel = 'phone' and is_best) as phone_permission,
        bool_or(has_unsubscribed) as has_unsubscribed
    from addresses
    where {{ in_rebuild_set('contact_id') }}
    group by contact_id
),

contacts as (
    select
        current_contacts.contact_id,
        count(*) as number_of_origins,
        min(origins.first_seen_at) as first_seen_at
    from current_contacts
    inner join origins on current_contacts.origin_key = origins.origin_key
    where {{ in_rebuild_set('current_contacts.contact_id') }}
    group by current_contacts.contact_id
    having bool_or({{ is_known_origin('origins') }})
),

best_values as (
    select
        contact_id,
        max(value) filter (where attribute = 'first_name') as first_name,
        max(value) filter (where attribute = 'last_name') as last_name,
        max(value) filter (where attribute = 'job_title') as job_title,
        max(value) filter (where attribute = 'company') as company,
        max(value) filter (where attribute = 'industry') as industry,
        max(value) filter (where attribute = 'company_size') as company_size,
        max(value) filter (where attribute = 'country') as country,
        max(value) filter (where attribute = 'marketing_area') as marketing_area
    from attributes
    where {{ in_rebuild_set('contact_id') }}
    group by contact_id
),

contact_interactions as (
    {%- if is_incremental() %}
        -- the rebuilt contacts' first interaction and last inbound one: two index lookups each, where
        -- the aggregate below read every interaction (at L 128 k contacts of a day: 2.7 s → 0.6 s)
        select
            rebuilt.contact_id,
            {{ first_interaction_at('rebuilt.contact_id') }} as first_interaction_at,
            {{ last_inbound_interaction_at('rebuilt.contact_id') }} as last_interaction_at
        from {{ rebuild_set() }} as rebuilt
    {%- else %}
        select
            interactions.contact_id,
            min(interactions.occurred_at) as first_interaction_at,
            max(interactions.occurred_at) filter (
                where interactions.direction = 'inbound'
            ) as last_interaction_at
        from {{ ref('fct_interactions') }} as interactions
        where interactions.contact_id is not null
        group by interactions.contact_id
    {%- endif %}
),

final as (
    select
        -- ids
        contacts.contact_id,
        accounts.account_id,

        -- best record
        best_addresses.email,
        best_addresses.phone,
        best_values.first_name,
        best_values.last_name,
        best_values.job_title,
        best_values.company,
        best_values.industry,
        best_values.company_size,
        best_values.country,
        best_values.marketing_area,

        -- consent for the best address (unknown when the contact has no usable one)
        coalesce(best_addresses.email_permission, 'unknown') as email_permission,
        coalesce(best_addresses.phone_permission, 'unknown') as phone_permission,
        coalesce(best_addresses.has_unsubscribed, false) as has_unsubscribed,

        -- timestamps and counts
        least(contacts.first_seen_at, contact_interactions.first_interaction_at) as first_seen_at,
        contact_interactions.last_interaction_at,
        cast(contacts.number_of_origins as integer) as number_of_origins

    from contacts
    left join best_values on contacts.contact_id = best_values.contact_id
    left join best_addresses on contacts.contact_id = best_addresses.contact_id
    left join accounts on contacts.contact_id = accounts.contact_id
    left join contact_interactions on contacts.contact_id = contact_interactions.contact_id
)

select * from final
