{#- The account (company) of every contact: the best company name, normalised without its legal
    form; a contact without a company name takes the company most contacts of its email domain
    name, or, failing that, the domain itself — never a free-mail domain (seed free_mail_domains,
    or any domain whose contacts name three or more companies). -#}
with

-- the match key once per company name, not per contact: three regular expressions a name, 5 s a
-- run for the 812 k contacts naming a company at L (who name 17); survivors' values are never null
company_keys as (
    select
        names.value,
        {{ company_match_key("names.value") }} as company_key
    from (
        select distinct value from {{ ref('int_contact_attributes_survived') }}
        where attribute = 'company'
    ) as names
),

companies as (
    select
        attributes.contact_id,
        company_keys.company_key
    from {{ ref('int_contact_attributes_survived') }} as attributes
    inner join company_keys on attributes.value = company_keys.value
    where attributes.attribute = 'company'
),

addresses as (
    select * from {{ ref('int_contact_addresses') }}
    where channel = 'email' and is_best
),

free_mail as (
    select domain from {{ ref('free_mail_domains') }}
),

contacts as (
    select
        coalesce(companies.contact_id, addresses.contact_id) as contact_id,
        companies.company_key,
        split_part(addresses.address_key, '@', 2) as email_domain
    from companies
    full outer join addresses on companies.contact_id = addresses.contact_id
),

-- the company most contacts of each email domain name (ties: the first key in order) and how many
-- companies they name: contacts counted per domain and company first (28 k pairs at L), where
-- mode() and count(distinct) sorted all 808 k contacts by domain and key (0.7 s of 4.6)
domain_company_counts as (
    select
        email_domain,
        company_key,
        count(*) as contacts
    from contacts
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

company_domains as (
    select domain_companies.*
    from domain_companies
    where
        domain_companies.companies < 3
        and domain_companies.email_domain not in (select free_mail.domain from free_mail)
),

keyed as (
    select
        contacts.contact_id,
        coalesce(
            'company:' || contacts.company_key,
            'company:' || company_domains.company_key,
            case
                when
                    contacts.email_domain not in (select free_mail.domain from free_mail)
                    then 'domain:' || contacts.email_domain
            end
        ) as account_key
    from contacts
    left join company_domains on contacts.email_domain = company_domains.email_domain
    left join domain_companies as shared_domains
        on contacts.email_domain = shared_domains.email_domain and shared_domains.companies >= 3
    where contacts.company_key is not null or shared_domains.email_domain is null
)

select
    contact_id,
    account_key,
    'acc_' || left(md5(account_key), 16) as account_id
from keyed
where account_key is not null
