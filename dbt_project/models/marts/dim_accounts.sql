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

contact_accounts as (
    select * from {{ ref('int_contact_accounts') }}
    where account_key is not null
),

contacts as (
    select * from {{ ref('dim_contacts') }}
),

-- only the columns used: it is materialised (read twice). The model runs beside the lead stages
-- (both after contact_scores, before transfer_candidates), where the join read again for each use
-- on both cores took as long and the stages' cores with it.
members as (
    select
        contact_accounts.account_key,
        contacts.contact_id,
        contacts.last_interaction_at
    from contact_accounts
    inner join contacts on contact_accounts.contact_id = contacts.contact_id
),

scores as (
    select * from {{ ref('contact_scores') }}
),

-- the contacts' interest weights decayed to the run's date, as contact_interests shows them but
-- unrounded: from where they are kept, as that view's rounding to numeric (float to numeric goes
-- through text) cost 1.2 s of 2.9 at L, on the marts' longest path
interests as (
    select
        weighted.contact_id,
        weighted.interest,
        {{ interest_weight_as_of('weighted') }} as weight
    from {{ ref('int_contact_interests_weighted') }} as weighted
    inner join {{ ref('interest_taxonomy') }} as taxonomy on weighted.interest = taxonomy.interest
),

activity as (
    select
        members.account_key,
        -- at least one inbound interaction in the last vars.recent_activity_days, up to the logical
        -- date (macros/last_inbound.sql)
        count(*) filter (
            where {{ last_inbound_at('members.contact_id', 'members.last_interaction_at') }}
            > {{ as_of() }} - interval '{{ var("recent_activity_days") }} days'
        ) as recently_active_contacts,
        sum(scores.engagement_score) as engagement_score
    from members
    left join scores on members.contact_id = scores.contact_id
    group by members.account_key
),

account_interests as (
    select
        account_key,
        string_agg(interest, '|' order by weight desc, interest asc) as interests
    from (
        select
            members.account_key,
            interests.interest,
            sum(interests.weight) as weight,
            row_number() over (
                partition by members.account_key order by sum(interests.weight) desc, interests.interest asc
            ) as interest_rank
        from members
        inner join interests on members.contact_id = interests.contact_id
        group by members.account_key, interests.interest
    ) as ranked
    where interest_rank <= {{ var("interests")["account_top"] }}
    group by account_key
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
    left join activity on accounts.account_key = activity.account_key
    left join account_interests on accounts.account_key = account_interests.account_key
)

select * from final
