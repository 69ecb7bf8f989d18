-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_accounts, per contact. A contact's account follows from its own company key and
    email domain and, for a contact without a company, from what the other contacts of its email
    domain name (the domain's company, or none when they name three or more). So a build redoes
    the contacts whose company or best email may have changed (logged by the identity build,
    survivorship and addresses), and the contacts without a company of every domain whose company
    those changes moved.

    How the moved domains are found: the table's contacts counted per domain and company in one
    pass (945 k rows at L: 0.4 s), and for the domains the logged contacts had or have, the counts
    moved by their old keys (the table's rows) and new ones. Counting only the touched domains'
    contacts was slower: at L a day's 20 k logged contacts touch 9.8 k domains that hold 544 k
    contacts, read by index twice (before and after) and once more by the select (4.9 s of
    pre-hook, 1.9 s of select). -#}

{#- the watermark's settings: the legal forms the company key drops (vars) -#}
{% macro contact_accounts_settings() -%}
    {{ return({"legal_suffixes": var("legal_suffixes")}) }}
{%- endmacro %}

{#- the pre-hook's temporary tables (incremental builds) -#}
{% macro contact_accounts_temp(name) -%}
    pg_temp.{{ this.name }}__{{ name }}
{%- endmacro %}

{#- Each contact's company key (its best company name normalised, once per distinct name: three
    regular expressions a name, 5 s a run at 1 M contacts when computed per contact) and its best
    email's domain: one row per contact holding either, of the contacts `contacts` returns (a query
    of contact_id) or of every contact. -#}
{% macro contact_account_keys(contacts=none) -%}
    with

    {#- (read twice: of every contact not materialised, 812 k rows at L; of a few, once) #}
    company_names as {{ "materialized" if contacts else "not materialized" }} (
        select
            attributes.contact_id,
            attributes.value
        from {{ ref('int_contact_attributes_survived') }} as attributes
        where
            attributes.attribute = 'company'
            {%- if contacts %}
            and attributes.contact_id in ({{ contacts }})
            {%- endif %}
    ),

    company_keys as (
        select
            names.value,
            {{ company_match_key("names.value") }} as company_key
        from (select distinct company_names.value from company_names) as names
    ),

    best_emails as (
        select
            addresses.contact_id,
            split_part(addresses.address_key, '@', 2) as email_domain
        from {{ ref('int_contact_addresses') }} as addresses
        where
            addresses.channel = 'email'
            and addresses.is_best
            {%- if contacts %}
            and addresses.contact_id in ({{ contacts }})
            {%- endif %}
    )

    select
        coalesce(companies.contact_id, best_emails.contact_id) as contact_id,
        companies.company_key,
        best_emails.email_domain
    from (
        select
            company_names.contact_id,
            company_keys.company_key
        from company_names
        inner join company_keys on company_names.value = company_keys.value
    ) as companies
    full outer join best_emails on companies.contact_id = best_emails.contact_id
{%- endmacro %}

{#- Per email domain of `counts` (a query of email_domain, company_key and `column`, a number of
    contacts): the company most of them name (ties: the first key in order), null when they name
    three or more, and whether they do (is_shared_domain: its contacts without a company get no
    account). -#}
{% macro domain_companies(counts, column='contacts') -%}
    select
        ranked.email_domain,
        case when ranked.companies < 3 then ranked.company_key end as domain_company_key,
        ranked.companies >= 3 as is_shared_domain
    from (
        select distinct on (counted.email_domain)
            counted.email_domain,
            counted.company_key,
            count(*) over (partition by counted.email_domain) as companies
        from ({{ counts }}) as counted
        where counted.{{ column }} > 0
        order by counted.email_domain asc, counted.{{ column }} desc, counted.company_key asc
    ) as ranked
{%- endmacro %}

{#- The pre-hook of an incremental build, three temporary tables:
    - logged: the contacts logged since the last build (by the identity build, survivorship and
      addresses; not those whose addresses were only restated: their best email stands), every
      contact when free_mail_domains or the legal forms changed;
    - keys: their company keys and email domains now;
    - domain_counts: per domain they had or have (free-mail domains aside: never an account) and
      company, its contacts before and after this build. -#}
{% macro contact_accounts_pre_hook() -%}
    {%- if is_incremental() %}
        create temporary table {{ contact_accounts_temp('logged') }} on commit drop as
        select distinct q.contact_id
        from (
            {{ logged_contacts_rebuild(
                upstream=['int_contact_addresses', 'int_contact_attributes_survived'],
                restated=false,
                rules=[ref('free_mail_domains')],
                settings=contact_accounts_settings()
            ) }}
        ) as q;
        analyze {{ contact_accounts_temp('logged') }};

        create temporary table {{ contact_accounts_temp('keys') }} on commit drop as
        {{ contact_account_keys("select logged.contact_id from " ~ contact_accounts_temp('logged') ~ " as logged") }};
        analyze {{ contact_accounts_temp('keys') }};

        create temporary table {{ contact_accounts_temp('domain_counts') }} on commit drop as
        with

        old_keys as (
            select
                previous.email_domain,
                previous.company_key
            from {{ this }} as previous
            where previous.contact_id in (select logged.contact_id from {{ contact_accounts_temp('logged') }} as logged)
        ),

        touched as (
            select old_keys.email_domain from old_keys
            where old_keys.email_domain is not null
            union
            select new_keys.email_domain from {{ contact_accounts_temp('keys') }} as new_keys
            where new_keys.email_domain is not null
            except
            select free_mail.domain from {{ ref('free_mail_domains') }} as free_mail
        ),

        -- every domain's contacts per company, in one pass over the table (materialised, so the
        -- planner cannot look the touched domains' contacts up by index instead)
        counted as materialized (
            select
                previous.email_domain,
                previous.company_key,
                count(*) as contacts
            from {{ this }} as previous
            where previous.email_domain is not null and previous.company_key is not null
            group by previous.email_domain, previous.company_key
        ),

        moved as (
            select
                old_keys.email_domain,
                old_keys.company_key,
                -1 as change
            from old_keys
            union all
            select
                new_keys.email_domain,
                new_keys.company_key,
                1 as change
            from {{ contact_accounts_temp('keys') }} as new_keys
        )

        select
            both_counts.email_domain,
            both_counts.company_key,
            sum(both_counts.contacts) as contacts_before,
            sum(both_counts.contacts + both_counts.change) as contacts_after
        from (
            select
                counted.email_domain,
                counted.company_key,
                counted.contacts,
                0 as change
            from counted
            where counted.email_domain in (select touched.email_domain from touched)
            union all
            select
                moved.email_domain,
                moved.company_key,
                0 as contacts,
                moved.change
            from moved
            where
                moved.company_key is not null
                and moved.email_domain in (select touched.email_domain from touched)
        ) as both_counts
        group by both_counts.email_domain, both_counts.company_key;
        analyze {{ contact_accounts_temp('domain_counts') }}
    {%- endif %}
{%- endmacro %}

{#- The rebuild set: the logged contacts, and the contacts without a company of every domain whose
    company moved (its company before and after, from the pre-hook's counts) -#}
{% macro contact_accounts_rebuild() -%}
    {%- set counts = "select * from " ~ contact_accounts_temp('domain_counts') -%}
    select logged.contact_id from {{ contact_accounts_temp('logged') }} as logged

    union all

    select previous.contact_id
    from {{ this }} as previous
    where
        previous.company_key is null
        and previous.email_domain in (
            select coalesce(before.email_domain, after.email_domain)
            from ({{ domain_companies(counts, 'contacts_before') }}) as before
            full outer join ({{ domain_companies(counts, 'contacts_after') }}) as after
                on before.email_domain = after.email_domain
            where
                (before.domain_company_key, coalesce(before.is_shared_domain, false))
                is distinct from (after.domain_company_key, coalesce(after.is_shared_domain, false))
        )
{%- endmacro %}
