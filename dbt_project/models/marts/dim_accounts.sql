{#- The golden account (company): one row per account found in the contacts' companies and email
    domains and in the CRM's opportunities (int_account_profiles: name, industry, size, country,
    main contact, members, top interests), with its engagement score: the sum of its contacts'
    (as of the run's logical date). Only the sum waits for contact_scores, so the rest is built
    beside them. -#}
{{ config(pre_hook="{{ cheap_parallel_gather() }}") }}

with

profiles as (
    select * from {{ ref('int_account_profiles') }}
),

contact_accounts as (
    select * from {{ ref('int_contact_accounts') }}
),

scores as (
    select * from {{ ref('contact_scores') }}
),

-- over the same members as the profiles' counts (a member without a score adds nothing)
engagement as (
    select
        contact_accounts.account_id,
        sum(scores.engagement_score) as engagement_score
    from contact_accounts
    inner join scores on contact_accounts.contact_id = scores.contact_id
    group by contact_accounts.account_id
)

select
    -- ids
    profiles.account_id,
    profiles.main_contact_id,

    -- best record
    profiles.name,
    profiles.industry,
    profiles.company_size,
    profiles.country,
    profiles.email_domain,

    -- members and activity
    profiles.number_of_contacts,
    profiles.recently_active_contacts,
    cast(coalesce(engagement.engagement_score, 0) as numeric(12, 2)) as engagement_score,
    profiles.top_interests,
    profiles.last_interaction_at

from profiles
left join engagement on profiles.account_id = engagement.account_id
