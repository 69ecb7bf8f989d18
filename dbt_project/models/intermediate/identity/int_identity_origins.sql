{#- One row per origin — a source record (its latest version) or a web cookie seen in interactions
    (a cookie is an origin of its own: a form ties it to an email) — with its keys ready for
    matching: email (normalised, provider rules applied), phone in E.164, CRM id, cookie id. -#}
{%- set default_country = var("identity")["default_country"] %}
with

contacts as (
    select * from {{ ref('stg_feed__contacts') }}
),

interactions as (
    select * from {{ ref('stg_feed__interactions') }}
),

countries as (
    select * from {{ ref('countries') }}
),

latest_records as (
    -- raw is append-only: the latest landed version of each source record
    select distinct on (source_system, source_record_id)
        *,
        min(updated_at) over (partition by source_system, source_record_id) as first_seen_at
    from contacts
    order by source_system asc, source_record_id asc, updated_at desc, loaded_at desc
),

records as (
    select
        latest_records.*,
        coalesce(by_code.country, by_alpha3.country, by_name.country) as country_code
    from latest_records
    left join countries as by_code on latest_records.country = by_code.country
    left join countries as by_alpha3 on latest_records.country = by_alpha3.alpha3
    left join countries as by_name on lower(latest_records.country) = lower(by_name.name)
),

records_with_phone as (
    select
        records.*,
        {{ e164_phone("records.phone", "dialing.calling_code", "dialing.trunk_prefix") }} as phone_e164
    from records
    left join countries as dialing
        on
            coalesce(
                records.country_code,
                {{ "'" ~ default_country ~ "'" if default_country else "null" }}
            )
            = dialing.country
),

cookies as (
    -- one email across a cookie's forms ties it to that person; several (a shared computer) tie it to none
    select
        source_system,
        cookie_id,
        case when count(distinct email_key) = 1 then min(email) end as email,
        case when count(distinct email_key) = 1 then min(email_key) end as email_key,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as updated_at,
        max(loaded_at) as loaded_at
    from interactions
    where cookie_id is not null
    group by source_system, cookie_id
),

origins as (
    select
        -- ids
        source_system || ':' || source_record_id as origin_key,
        source_system,
        source_record_id,
        'record' as origin_type,

        -- keys
        email,
        email_key,
        phone_e164 as phone,
        crm_id,
        cookie_id,

        -- attributes
        first_name,
        last_name,
        name_key,
        job_title,
        company,
        company_key,
        split_part(email, '@', 2) as email_domain,
        industry,
        company_size,
        country_code as country,
        marketing_area,
        email_opt_in,
        phone_opt_in,
        {{ parse_flag("payload ->> 'is_main_contact'") }} as is_main_contact,

        -- timestamps
        first_seen_at,
        updated_at,
        loaded_at
    from records_with_phone

    union all

    select
        source_system || ':cookie:' || cookie_id as origin_key,
        source_system,
        'cookie:' || cookie_id as source_record_id,
        'cookie' as origin_type,
        email,
        email_key,
        null as phone,
        null as crm_id,
        cookie_id,
        null as first_name,
        null as last_name,
        null as name_key,
        null as job_title,
        null as company,
        null as company_key,
        split_part(email, '@', 2) as email_domain,
        null as industry,
        null as company_size,
        null as country,
        null as marketing_area,
        null::boolean as email_opt_in,
        null::boolean as phone_opt_in,
        null::boolean as is_main_contact,
        first_seen_at,
        updated_at,
        loaded_at
    from cookies
)

select
    row_number() over (order by origins.origin_key) as node_id,
    origins.*,
    (
        (origins.first_name is not null)::int
        + (origins.last_name is not null)::int
        + (origins.job_title is not null)::int
        + (origins.company is not null)::int
        + (origins.industry is not null)::int
        + (origins.company_size is not null)::int
        + (origins.country is not null)::int
        + (origins.marketing_area is not null)::int
        + (origins.email is not null)::int
        + (origins.phone is not null)::int
    ) as completeness
from origins
