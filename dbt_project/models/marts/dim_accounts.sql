{#- The golden account (company): one row per account found in the contacts' companies and email
    domains and in the CRM's opportunities. Its best record (name, industry, size, country, main
    contact, members) is int_accounts_consolidated's, which does not depend on the run's date; what
    does is added here: the engagement score, the sum of its contacts' (as of the run's logical
    date), the contacts recently active up to it, and its top interests, those its contacts show
    most. -#}
{{ config(pre_hook="{{ cheap_parallel_gather() }}") }}

with

accounts as (
    select * from {{ ref('int_accounts_consolidated') }}
),

-- its members: dim_contacts holds each contact's account (int_contact_accounts', the relationship
-- test holds it), so no second join of the accounts to the contacts (int_accounts_consolidated
-- has one already); read for each use (a scan of dim_contacts, 0.2 s at L): a materialised CTE
-- keeps both aggregates in one process, read twice they run on both cores (8.6-9.2 → 5.9-6.3 s)
members as not materialized (
    select
        contact_id,
        account_id,
        last_interaction_at
    from {{ ref('dim_contacts') }}
    where account_id is not null
),

scores as (
    select * from {{ ref('contact_scores') }}
),

-- the contacts' interest weights as of the run's date (from their exact units, as contact_interests
-- shows them decayed), in whole 65536ths: whole numbers in double precision add up exactly
-- below 2 ^ 53 (an account's weight below 1.3e11), so an account's sums are the same whatever
-- order a parallel aggregate adds them in, where sums of the weights themselves could swap a
-- near-tie of two interests from one run to the next (a numeric sum of the units: 2.5 s more at L)
interests as (
    select
        weighted.contact_id,
        weighted.interest,
        round({{ interest_weight_of_units('weighted.weight_units') }} * 65536) as weight
    from {{ ref('int_contact_interests_weighted') }} as weighted
    inner join {{ ref('interest_taxonomy') }} as taxonomy on weighted.interest = taxonomy.interest
),

activity as (
    select
        members.account_id,
        -- at least one inbound interaction in the last vars.recent_activity_days, up to the logical
        -- date (macros/last_inbound.sql)
        count(*) filter (
            where {{ last_inbound_at('members.contact_id', 'members.last_interaction_at') }}
            > {{ as_of() }} - interval '{{ var("recent_activity_days") }} days'
        ) as recently_active_contacts,
        sum(scores.engagement_score) as engagement_score
    from members
    left join scores on members.contact_id = scores.contact_id
    group by members.account_id
),

account_interests as (
    select
        account_id,
        string_agg(interest, '|' order by weight desc, interest asc) as interests
    from (
        select
            members.account_id,
            interests.interest,
            sum(interests.weight) as weight,
            row_number() over (
                partition by members.account_id order by sum(interests.weight) desc, interests.interest asc
            ) as interest_rank
        from members
        inner join interests on members.contact_id = interests.contact_id
        group by members.account_id, interests.interest
    ) as ranked
    where interest_rank <= {{ var("interests")["account_top"] }}
    group by account_id
),

final as (
    select
        -- ids
        accounts.account_id,
        accounts.main_contact_id,

        -- best record
        accounts.name,
        accounts.industry,
        accounts.company_size,
        accounts.country,
        accounts.email_domain,

        -- members and activity
        accounts.number_of_contacts,
        cast(coalesce(activity.recently_active_contacts, 0) as integer) as recently_active_contacts,
        cast(coalesce(activity.engagement_score, 0) as numeric(12, 2)) as engagement_score,
        account_interests.interests as top_interests,
        accounts.last_interaction_at

    from accounts
    left join activity on accounts.account_id = activity.account_id
    left join account_interests on accounts.account_id = account_interests.account_id
)

select * from final
