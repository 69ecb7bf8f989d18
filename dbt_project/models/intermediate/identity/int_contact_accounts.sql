{#- The account (company) of every contact with a company or a best email: the best company name,
    normalised without its legal form; a contact without a company name takes the company most
    contacts of its email domain name, or, failing that, the domain itself — never a free-mail
    domain (seed free_mail_domains, or any domain whose contacts name three or more companies):
    there its account is null. Each row keeps the company key and email domain it was made from.

    Per contact incremental (macros/account_changes.sql): a build redoes the logged contacts and
    the contacts without a company of the email domains those had or have, counting each such
    domain's companies from the contacts it redoes and the rows it keeps; it logs the contacts it
    redid for reasons of its own for dim_contacts, as 'restated' (not rebuilt there) where their
    account stayed. -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{"columns": ["email_domain"]}],
        pre_hook=[
            "{% if is_incremental() %}alter table {{ this }} add column if not exists company_key text,"
            " add column if not exists email_domain text{% endif %}",
            "{{ rebuild_set_pre_hook(contact_accounts_rebuild()) }}",
            "{{ accounts_before_pre_hook() }}",
        ],
        post_hook=[
            "{{ contact_rebuild_post_hook(
                rules=[ref('free_mail_domains')],
                settings=contact_accounts_settings(),
                upstream=['int_contact_addresses', 'int_contact_attributes_survived'],
                log_own_for=['dim_contacts'],
                restated=accounts_unchanged()
            ) }}",
            "{{ ensure_unique_index(['contact_id']) }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

-- the match key once per company name, not per contact: three regular expressions a name, 5 s a
-- run for the 812 k contacts naming a company at L (who name 17); survivors' values are never null
company_keys as (
    select
        names.value,
        {{ company_match_key("names.value") }} as company_key
    from (
        select distinct value from {{ ref('int_contact_attributes_survived') }}
        where attribute = 'company' and {{ in_rebuild_set('contact_id') }}
    ) as names
),

companies as (
    select
        attributes.contact_id,
        company_keys.company_key
    from {{ ref('int_contact_attributes_survived') }} as attributes
    inner join company_keys on attributes.value = company_keys.value
    where attributes.attribute = 'company' and {{ in_rebuild_set('attributes.contact_id') }}
),

addresses as (
    select * from {{ ref('int_contact_addresses') }}
    where channel = 'email' and is_best and {{ in_rebuild_set('contact_id') }}
),

free_mail as (
    select domain from {{ ref('free_mail_domains') }}
),

-- the contacts this build redoes (every contact on a full build)
contacts as (
    select
        coalesce(companies.contact_id, addresses.contact_id) as contact_id,
        companies.company_key,
        split_part(addresses.address_key, '@', 2) as email_domain
    from companies
    full outer join addresses on companies.contact_id = addresses.contact_id
),

-- every contact naming a company, by email domain: on an incremental build those redone here and,
-- for their domains, the rows kept (the domains' other contacts, looked up by domain)
domain_members as (
    select
        email_domain,
        company_key
    from contacts
    {%- if is_incremental() %}

        union all

        select
            kept.email_domain,
            kept.company_key
        from {{ this }} as kept
        where
            kept.email_domain in (select contacts.email_domain from contacts)
            and kept.company_key is not null
            and not {{ in_rebuild_set('kept.contact_id') }}
    {%- endif %}
),

-- the company most contacts of each email domain name (ties: the first key in order) and how many
-- companies they name: contacts counted per domain and company first (28 k pairs at L), where
-- mode() and count(distinct) sorted all 808 k contacts by domain and key (0.7 s of 4.6)
domain_company_counts as (
    select
        email_domain,
        company_key,
        count(*) as contacts
    from domain_members
    where email_domain is not null and company_key is not null
    group by email_domain, company_key
),

domain_companies as (
    select distinct on (email_domain)
        email_domain,
        company_key,
        count(*) over (partition by email_domain) as companies
    from domain_company_counts
    order by email_domain asc, contacts desc, company_key asc
),

keyed as (
    select
        contacts.contact_id,
        contacts.company_key,
        contacts.email_domain,
        case
            when contacts.company_key is not null then 'company:' || contacts.company_key
            -- a free-mail domain, or one whose contacts name three or more companies: none
            when contacts.email_domain in (select free_mail.domain from free_mail) then null
            when domain_companies.companies >= 3 then null
            when domain_companies.company_key is not null then 'company:' || domain_companies.company_key
            else 'domain:' || contacts.email_domain
        end as account_key
    from contacts
    left join domain_companies on contacts.email_domain = domain_companies.email_domain
)

select
    contact_id,
    account_key,
    'acc_' || left(md5(account_key), 16) as account_id,
    company_key,
    email_domain
from keyed
