{#- One row per origin — a source record (its latest version) or a web cookie seen in interactions
    (a cookie is an origin of its own: a form ties it to an email) — with its keys ready for
    matching: email (normalised, provider rules applied), phone in E.164, CRM id, cookie id.

    Incremental, so a daily run reads the new loads only, not every interaction:
    - it reads the loads it has not read yet (macros/loads_read.sql) and merges them into the
      origins they touch: a record keeps its latest version (and its first
      updated_at), a cookie the lowest and highest email key of its forms, so "one email" still
      means one across all its interactions;
    - it writes an origin again only when the merge changed it (a load read twice changes
      nothing), with identity_build = this build's number; and keys_changed_build = that number
      too when what matching reads changed (its keys, name key, type or first_seen_at; or it is
      new), else the number it had: a cookie with new visits or a record with a new job title is
      written again, but int_identity_key_values and the identity models after it redo only the
      origins whose keys_changed_build is newer than their watermark;
    - a new origin gets the next node ids (an origin keeps its node id; a full refresh numbers
      them again in origin_key order, which changes ids, not clusters).
    A full refresh gives the same origins (and numbers their nodes again; its build number, from
    a sequence, is the newest too, so the tables downstream take every origin again). -#}
{#- (main_contacts: the origins the CRM flags as their account's main contact, which dim_accounts
    looks up; it scanned all 2.4 M origins at L for them, 0.9 s a day) -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="origin_key",
        on_schema_change="append_new_columns",
        indexes=[
            {"columns": ["origin_key"], "unique": true},
            {"columns": ["identity_build"]},
        ],
        pre_hook="{{ capture_loads_to_read() }}",
        post_hook=[
            "{{ record_loads_read() }}",
            "{{ ensure_unique_index(['origin_key']) }}",
            "{{ ensure_unique_index(['node_id']) }}",
            "{{ ensure_index('main_contacts', '(origin_key) where is_main_contact') }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}
{%- set default_country = var("identity")["default_country"] %}
{#- what an origin is: a row is written again when one of these changed -#}
{%- set origin_columns = [
    "origin_key", "source_system", "source_record_id", "origin_type",
    "email", "email_key", "phone", "crm_id", "cookie_id",
    "first_name", "last_name", "name_key", "job_title", "company", "company_key", "email_domain",
    "industry", "company_size", "country", "marketing_area", "email_opt_in", "phone_opt_in",
    "is_main_contact", "first_seen_at", "updated_at", "loaded_at",
    "cookie_email_key_min", "cookie_email_key_max", "cookie_email_min",
] %}
{#- what matching and the id ledger read of an origin (int_identity_key_values, the ledger's
    founders by first_seen_at, through int_identity_clusters) -#}
{%- set match_columns = [
    "origin_type", "email_key", "phone", "crm_id", "cookie_id", "name_key", "first_seen_at",
] %}
{#- (the loads the pre-hook will list, also as a bound for raw's BRIN index: macros/loads_read.sql) -#}
{%- set landed = "true" %}
{%- if is_incremental() %}
    {%- set landed = "load_id = any(" ~ loads_to_read() ~ ") and " ~ landed_since(loads_to_read_query()) %}
{%- endif %}
with

contacts as (
    select * from {{ ref('stg_feed__contacts') }}
    where {{ landed }}
),

interactions as (
    select * from {{ ref('stg_feed__interactions') }}
    where cookie_id is not null and {{ landed }}
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

landed_cookies as (
    select
        source_system,
        cookie_id,
        min(email_key) as email_key_min,
        max(email_key) as email_key_max,
        min(email) as email_min,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as updated_at,
        max(loaded_at) as loaded_at
    from interactions
    group by source_system, cookie_id
),

cookie_states as (
    select * from landed_cookies
    {%- if is_incremental() %}
        union all
        -- what the cookie's earlier loads said
        select
            previous.source_system,
            previous.cookie_id,
            previous.cookie_email_key_min,
            previous.cookie_email_key_max,
            previous.cookie_email_min,
            previous.first_seen_at,
            previous.updated_at,
            previous.loaded_at
        from {{ this }} as previous
        where previous.origin_key in (
            select landed_cookies.source_system || ':cookie:' || landed_cookies.cookie_id from landed_cookies
        )
    {%- endif %}
),

cookies as (
    -- one email across a cookie's forms ties it to that person; several (a shared computer) tie it
    -- to none: its lowest and its highest email key differ
    select
        source_system,
        cookie_id,
        case when min(email_key_min) = max(email_key_max) then min(email_min) end as email,
        case when min(email_key_min) = max(email_key_max) then min(email_key_min) end as email_key,
        min(email_key_min) as email_key_min,
        max(email_key_max) as email_key_max,
        min(email_min) as email_min,
        min(first_seen_at) as first_seen_at,
        max(updated_at) as updated_at,
        max(loaded_at) as loaded_at
    from cookie_states
    group by source_system, cookie_id
),

landed_origins as (
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
        loaded_at,

        -- a cookie's email keys over all its loads (null for records)
        null as cookie_email_key_min,
        null as cookie_email_key_max,
        null as cookie_email_min
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
        loaded_at,
        email_key_min as cookie_email_key_min,
        email_key_max as cookie_email_key_max,
        email_min as cookie_email_min
    from cookies
)

{%- if is_incremental() %}

    ,

    candidates as (
        -- the landed origins, and the kept versions of the records among them
        select
            {%- for column in origin_columns[:-1] %}
                landed_origins.{{ column }},
            {%- endfor %}
            landed_origins.{{ origin_columns[-1] }}
        from landed_origins
        union all
        select
            {%- for column in origin_columns[:-1] %}
                previous.{{ column }},
            {%- endfor %}
            previous.{{ origin_columns[-1] }}
        from {{ this }} as previous
        where
            previous.origin_type = 'record'
            and previous.origin_key in (
                select landed_origins.origin_key from landed_origins
                where landed_origins.origin_type = 'record'
            )
    ),

    merged as (
        -- a record's latest version and its first updated_at (the cookies are merged already)
        select distinct on (candidates.origin_key)
            {%- for column in origin_columns if column != "first_seen_at" %}
                candidates.{{ column }},
            {%- endfor %}
            min(candidates.first_seen_at) over (partition by candidates.origin_key) as first_seen_at
        from candidates
        order by candidates.origin_key asc, candidates.updated_at desc, candidates.loaded_at desc
    ),

    this_build as (
        -- (a volatile CTE runs once: one number for the two columns)
        select nextval('{{ identity_builds_sequence() }}') as identity_build
    ),

    origins as (
        -- those the new loads changed (a load read again changes nothing), with their node ids
        select
            coalesce(
                previous.node_id,
                (select coalesce(max(this.node_id), 0) from {{ this }} as this)
                + row_number() over (order by previous.node_id is null desc, merged.origin_key asc)
            ) as node_id,
            {%- for column in origin_columns %}
                merged.{{ column }},
            {%- endfor %}
            (select this_build.identity_build from this_build) as identity_build,
            case
                when ({{ columns_differ('merged', 'previous', match_columns) }})
                    then (select this_build.identity_build from this_build)
                else {{ kept_keys_changed_build('previous') }}
            end as keys_changed_build
        from merged
        left join {{ this }} as previous on merged.origin_key = previous.origin_key
        where
            previous.origin_key is null
            or {{ columns_differ('merged', 'previous', origin_columns) }}
    )

{%- else %}

    ,

    this_build as (
        select nextval('{{ identity_builds_sequence() }}') as identity_build
    ),

    origins as (
        select
            row_number() over (order by landed_origins.origin_key) as node_id,
            landed_origins.*,
            (select this_build.identity_build from this_build) as identity_build,
            (select this_build.identity_build from this_build) as keys_changed_build
        from landed_origins
    )

{%- endif %}

select
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
