{#- Contacts that may be handed to sales at all: email consent granted, never unsubscribed, a
    usable best email address (not hard-bounced since its last opt-in). A transfer definition
    narrows this to its target group; the quality gate checks the table before any transfer reads
    it, so a contact that slipped in without consent stops every transfer. -#}
{{ config(pre_hook="{{ cheap_parallel_gather() }}") }}

with

contacts as (
    select * from {{ ref('dim_contacts') }}
),

best_emails as (
    select * from {{ ref('contact_addresses') }}
    where channel = 'email' and is_best
),

scores as (
    select * from {{ ref('contact_scores') }}
),

stages as (
    select * from {{ ref('lead_stages') }}
),

interests as (
    select * from {{ ref('int_contact_interest_lists') }}
),

-- the account's name from its best record, which does not wait for the accounts' engagement
-- (dim_accounts, built after the scores: 4-5 s more on the run's longest path at L)
accounts as (
    select * from {{ ref('int_accounts_consolidated') }}
)

select
    contacts.contact_id,
    contacts.email,
    case when contacts.phone_permission = 'granted' then contacts.phone end as phone,
    contacts.first_name,
    contacts.last_name,
    contacts.job_title,
    contacts.company,
    contacts.industry,
    contacts.country,
    contacts.marketing_area,
    contacts.account_id,
    accounts.name as account_name,
    contacts.email_permission,
    contacts.has_unsubscribed,
    stages.stage,
    stages.stage_order,
    stages.entered_at as stage_entered_at,
    scores.rating,
    scores.profile_grade,
    scores.engagement_level,
    scores.profile_score,
    scores.engagement_score,
    scores.lead_score,
    interests.interests,
    contacts.last_interaction_at
from contacts
inner join best_emails on contacts.contact_id = best_emails.contact_id
inner join scores on contacts.contact_id = scores.contact_id
inner join stages on contacts.contact_id = stages.contact_id
left join interests on contacts.contact_id = interests.contact_id
left join accounts on contacts.account_id = accounts.account_id
where
    contacts.email_permission = 'granted'
    and not contacts.has_unsubscribed
    and best_emails.is_usable
    and not best_emails.has_unsubscribed
