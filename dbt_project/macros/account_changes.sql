-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_accounts, per contact incremental (macros/contact_changes.sql). A contact's account
    depends on its own company and best email, and, without a company, on the companies the other
    contacts of its email domain name. So a build redoes the contacts logged since the last one
    (their company or best email may have changed: the log, survivorship, the addresses), every
    contact when the free-mail seed or the legal forms changed, and the contacts without a company
    of every email domain that a logged contact had or has (those domains' companies may have
    changed): on a day at L, a few thousand contacts besides the logged ones, where the whole
    table (945 k contacts, 25 k domains) was built again every run. -#}

{#- what every account depends on besides the contacts: a change rebuilds every contact -#}
{% macro contact_accounts_settings() -%}
    {{ return({"legal_suffixes": var("legal_suffixes")}) }}
{%- endmacro %}

{% macro contact_accounts_logged() -%}
    {%- set upstream = ['int_contact_addresses', 'int_contact_attributes_survived'] -%}
    {{ contacts_to_rebuild(upstream=upstream, restated=false) }}
{%- endmacro %}

{% macro contact_accounts_rebuild() -%}
    {%- set free_mail = ref('free_mail_domains') -%}
    {{ contact_accounts_logged() }}

    union all

    select current_contacts.contact_id
    from {{ ref('int_contact_origins_current') }} as current_contacts
    where {{ everything_changed([free_mail], contact_accounts_settings()) }}

    union all

    select without_company.contact_id
    from {{ this }} as without_company
    where
        without_company.company_key is null
        and without_company.email_domain in (
            -- the domains the logged contacts had (this table) and have (their best email now)
            select previous.email_domain
            from {{ this }} as previous
            where previous.contact_id in ({{ contact_accounts_logged() }})
            union
            select split_part(addresses.address_key, '@', 2)
            from {{ ref('int_contact_addresses') }} as addresses
            where
                addresses.channel = 'email'
                and addresses.is_best
                and addresses.contact_id in ({{ contact_accounts_logged() }})
        )
        -- (a free-mail domain names no account, whatever its contacts' companies)
        and without_company.email_domain not in (select free_mail.domain from {{ free_mail }} as free_mail)
{%- endmacro %}

{#- pre-hook, after the rebuild set's: the accounts of the contacts it redoes, as they were -#}
{% macro accounts_before_pre_hook() -%}
    create temporary table pg_temp.{{ this.name }}__before on commit drop as
    {%- if is_incremental() %}
    select
        previous.contact_id,
        previous.account_id
    from {{ this }} as previous
    where previous.contact_id in (select r.contact_id from {{ rebuild_set() }} as r);
    {%- else %}
    select
        null::text as contact_id,
        null::text as account_id
    where false;
    {%- endif %}
    analyze pg_temp.{{ this.name }}__before
{%- endmacro %}

{#- the redone contacts whose account is as before: logged as 'restated', which dim_contacts does
    not rebuild (a domain's companies changed, and its contacts without one kept their account) -#}
{% macro accounts_unchanged() -%}
    select before.contact_id
    from pg_temp.{{ this.name }}__before as before
    inner join {{ this }} as after on before.contact_id = after.contact_id
    where before.account_id is not distinct from after.account_id
{%- endmacro %}
