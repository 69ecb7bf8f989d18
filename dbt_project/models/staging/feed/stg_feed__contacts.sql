with

source as (
    select * from {{ ref('base_feed__contacts') }}
),

renamed as (
    select
        -- ids
        source_system,
        btrim(source_record_id) as source_record_id,
        load_id,
        {{ clean_text("crm_id") }} as crm_id,
        {{ clean_text("cookie_id") }} as cookie_id,

        -- identifying keys, normalised for matching
        {{ normalize_email("email") }} as email,
        {{ email_key("email") }} as email_key,
        {{ normalize_phone("phone") }} as phone,

        -- person and company
        {{ normalize_name("first_name") }} as first_name,
        {{ normalize_name("last_name") }} as last_name,
        {{ clean_text("job_title") }} as job_title,
        {{ clean_text("company") }} as company,
        {{ clean_text("industry") }} as industry,
        {{ clean_text("company_size") }} as company_size,
        upper({{ clean_text("country") }}) as country,
        upper({{ clean_text("marketing_area") }}) as marketing_area,
        {{ company_match_key("company") }} as company_key,
        {{ name_match_key(normalize_name("first_name"), normalize_name("last_name")) }} as name_key,

        -- consent
        {{ parse_flag("email_opt_in") }} as email_opt_in,
        {{ parse_flag("phone_opt_in") }} as phone_opt_in,

        -- timestamps (checked at landing: ISO 8601, not in the future)
        cast(updated_at as timestamptz) as updated_at,
        loaded_at,

        -- the source's own fields beyond the feed (e.g. a CRM's main-contact flag)
        payload

    from source
)

select * from renamed
