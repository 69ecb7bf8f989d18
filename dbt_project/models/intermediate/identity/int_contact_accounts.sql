{#- The account (company) of every contact: the best company name, normalised without its legal
    form; a contact without a company name takes the company most contacts of its email domain
    name, or, failing that, the domain itself — never a free-mail domain (seed free_mail_domains,
    or any domain whose contacts name three or more companies). One row per contact with a company
    or a best email, with the company key and email domain the account follows from (account_key
    and account_id null: no account).

    Per contact incremental (macros/contact_accounts.sql): a run redoes the contacts whose company
    or best email may have changed and the contacts without a company of each email domain whose
    company moved (contact_accounts_pre_hook() and contact_accounts_rebuild()), and logs the
    latter for dim_contacts; every contact when free_mail_domains or the legal forms changed.
    Built whole every run before (7-9 s a day at 1 M contacts, reading all 7 M survived
    attributes). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        pre_hook=[
            "{% if is_incremental() %}alter table {{ this }} add column if not exists company_key text,"
            ~ " add column if not exists email_domain text{% endif %}",
            "{{ contact_accounts_pre_hook() }}",
            "{{ rebuild_set_pre_hook(contact_accounts_rebuild()) }}",
        ],
        post_hook=[
            "{{ ensure_unique_index(['contact_id']) }}",
            "{{ ensure_index('email_domain', '(email_domain)') }}",
            "{{ contact_rebuild_post_hook(
                rules=[ref('free_mail_domains')],
                settings=contact_accounts_settings(),
                upstream=['int_contact_addresses', 'int_contact_attributes_survived'],
                log_own_for=['dim_contacts']
            ) }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

free_mail as (
    select domain from {{ ref('free_mail_domains') }}
),

-- the built contacts' company keys and email domains: on an incremental build, the logged
-- contacts' as the pre-hook found them, and the kept keys of the others of the rebuild set
-- (contacts without a company on a domain whose company moved)
built as (
    {%- if is_incremental() %}
        select
            new_keys.contact_id,
            new_keys.company_key,
            new_keys.email_domain
        from {{ contact_accounts_temp('keys') }} as new_keys

        union all

        select
            previous.contact_id,
            previous.company_key,
            previous.email_domain
        from {{ this }} as previous
        where
            previous.contact_id in (select rebuilt.contact_id from {{ rebuild_set() }} as rebuilt)
            and not exists (
                select from {{ contact_accounts_temp('logged') }} as logged
                where logged.contact_id = previous.contact_id
            )
    {%- else %}
        {{ contact_account_keys() }}
    {%- endif %}
),

-- each email domain's company, from its contacts per company: after this build as the pre-hook
-- counted them (an incremental build), or counted here
domain_companies as (
    {%- if is_incremental() %}
        {{ domain_companies("select * from " ~ contact_accounts_temp('domain_counts'), 'contacts_after') }}
    {%- else %}
        {{ domain_companies(
            "select built.email_domain, built.company_key, count(*) as contacts from built"
            ~ " where built.email_domain is not null and built.company_key is not null"
            ~ " group by built.email_domain, built.company_key"
        ) }}
    {%- endif %}
),

keyed as (
    select
        built.contact_id,
        built.company_key,
        built.email_domain,
        case
            when built.company_key is not null then 'company:' || built.company_key
            when
                built.email_domain is null
                or built.email_domain in (select free_mail.domain from free_mail)
                or domain_companies.is_shared_domain
                then null
            when domain_companies.domain_company_key is not null
                then 'company:' || domain_companies.domain_company_key
            else 'domain:' || built.email_domain
        end as account_key
    from built
    left join domain_companies on built.email_domain = domain_companies.email_domain
)

select
    contact_id,
    company_key,
    email_domain,
    account_key,
    'acc_' || left(md5(account_key), 16) as account_id
from keyed
