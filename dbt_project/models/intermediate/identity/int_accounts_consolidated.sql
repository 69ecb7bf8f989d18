{#- The golden account's best record, from its members' best records and the CRM: one row per
    account found in the contacts' companies and email domains and in the CRM's opportunities.
    Name, industry, size and country are the values most of its contacts hold (CRM opportunities
    name the account first); the main contact is the one the CRM flags, else the most recently
    active. Nothing here depends on the run's logical date, so it is built beside the scores:
    dim_accounts adds what does (engagement, recent activity, top interests), and the transfer
    candidates take the account's name from here without waiting for them. (Inside dim_accounts
    this was 4-5 s of every day's run at L after contact_scores, with one core idle.) -#}
{{ config(pre_hook="{{ cheap_parallel_gather() }}") }}

with

contact_accounts as (
    select * from {{ ref('int_contact_accounts') }}
    where account_key is not null
),

contacts as (
    select * from {{ ref('dim_contacts') }}
),

origins as (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

opportunities as (
    select * from {{ ref('stg_feed__opportunities') }}
    where account_key is not null
),

-- only the columns used: it is materialised (read three times). Read again for each use, it ran
-- on both cores but did the join three times: 4.7 s alone at L against 5.4-6.2 s, and in the day,
-- beside the scores, 12.6 s of thread time.
members as (
    select
        contact_accounts.account_key,
        contacts.account_id,
        contacts.contact_id,
        contacts.company,
        contacts.industry,
        contacts.company_size,
        contacts.country,
        contacts.first_seen_at,
        contacts.last_interaction_at
    from contact_accounts
    inner join contacts on contact_accounts.contact_id = contacts.contact_id
),

crm_accounts as (
    select
        'company:' || account_key as account_key,
        mode() within group (order by account) as name
    from opportunities
    group by account_key
),

flagged as (
    select current_contacts.contact_id
    from origins
    inner join current_contacts on origins.origin_key = current_contacts.origin_key
    where origins.is_main_contact
    group by current_contacts.contact_id
),

-- the value most of its members hold, per attribute (as mode(): nulls aside, a tie to the first
-- in order), counted in one hashed pass: mode() sorted every account's members once per attribute
-- (920 k rows at L)
value_counts as (
    select
        account_id,
        company,
        industry,
        company_size,
        country,
        count(*) as holders
    from members
    group by grouping sets (
        (account_id, company), (account_id, industry), (account_id, company_size), (account_id, country)
    )
),

most_common as (
    select
        account_id,
        (array_agg(company order by holders desc, company asc) filter (where company is not null))[1]
            as name,
        (array_agg(industry order by holders desc, industry asc) filter (where industry is not null))[1]
            as industry,
        (
            array_agg(company_size order by holders desc, company_size asc)
            filter (where company_size is not null)
        )[1] as company_size,
        (array_agg(country order by holders desc, country asc) filter (where country is not null))[1]
            as country
    from value_counts
    group by account_id
),

totals as (
    select
        account_id,
        account_key,
        count(*) as number_of_contacts,
        max(last_interaction_at) as last_interaction_at
    from members
    group by account_id, account_key
),

-- the main contact: a flagged member, else the most recently active (then the newest, then the
-- first id); only the flagged members and those with their account's latest interaction are
-- sorted (a "distinct on" over all members sorted 920 k rows at L, 2.3 s)
main_contacts as (
    select distinct on (members.account_id)
        members.account_id,
        members.contact_id
    from members
    inner join totals on members.account_id = totals.account_id
    left join flagged on members.contact_id = flagged.contact_id
    where
        flagged.contact_id is not null
        or members.last_interaction_at = totals.last_interaction_at
        or totals.last_interaction_at is null
    order by
        members.account_id asc,
        flagged.contact_id is not null desc,
        members.last_interaction_at desc nulls last,
        members.first_seen_at desc,
        members.contact_id asc
),

from_contacts as (
    select
        totals.*,
        most_common.name,
        most_common.industry,
        most_common.company_size,
        most_common.country
    from totals
    left join most_common on totals.account_id = most_common.account_id
),

all_accounts as (
    select account_key from from_contacts
    union
    select account_key from crm_accounts
),

final as (
    select
        -- ids
        'acc_' || left(md5(all_accounts.account_key), 16) as account_id,
        all_accounts.account_key,
        main_contacts.contact_id as main_contact_id,

        -- best record
        coalesce(crm_accounts.name, from_contacts.name, split_part(all_accounts.account_key, ':', 2)) as name,
        from_contacts.industry,
        from_contacts.company_size,
        from_contacts.country,
        case
            when all_accounts.account_key like 'domain:%' then split_part(all_accounts.account_key, ':', 2)
        end
            as email_domain,

        -- members
        cast(coalesce(from_contacts.number_of_contacts, 0) as integer) as number_of_contacts,
        from_contacts.last_interaction_at

    from all_accounts
    left join from_contacts on all_accounts.account_key = from_contacts.account_key
    left join crm_accounts on all_accounts.account_key = crm_accounts.account_key
    left join main_contacts on from_contacts.account_id = main_contacts.account_id
)

select * from final
