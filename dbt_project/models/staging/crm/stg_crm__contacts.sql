with

source as (
    select * from {{ source('crm', 'crm__contacts') }}
),

renamed as (
    select
        -- ids
        source_system,
        record_id as source_record_id,
        load_id,
        {{ clean_text("payload ->> 'crm_id'") }} as crm_id,
        {{ clean_text("payload ->> 'cookie_id'") }} as cookie_id,

        -- identifying keys, normalised for matching
        {{ normalize_email("payload ->> 'email'") }} as email,
        {{ normalize_phone("payload ->> 'phone'") }} as phone,

        -- person and company
        {{ normalize_name("payload ->> 'first_name'") }} as first_name,
        {{ normalize_name("payload ->> 'last_name'") }} as last_name,
        {{ clean_text("payload ->> 'job_title'") }} as job_title,
        {{ clean_text("payload ->> 'company'") }} as company,
        {{ clean_text("payload ->> 'industry'") }} as industry,
        {{ clean_text("payload ->> 'company_size'") }} as company_size,
        upper({{ clean_text("payload ->> 'country'") }}) as country,
        upper({{ clean_text("payload ->> 'marketing_area'") }}) as marketing_area,

        -- consent
        {{ parse_flag("payload ->> 'email_opt_in'") }} as email_opt_in,
        {{ parse_flag("payload ->> 'phone_opt_in'") }} as phone_opt_in,

        -- timestamps
        record_updated_at as updated_at,
        loaded_at

    from source
)

select * from renamed
