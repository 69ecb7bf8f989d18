with

source as (
    select * from {{ ref('base_feed__interactions') }}
),

renamed as (
    select
        -- ids
        source_system,
        btrim(source_interaction_id) as source_interaction_id,
        load_id,
        {{ clean_text("source_record_id") }} as source_record_id,
        {{ clean_text("campaign_id") }} as campaign_id,

        -- who: the keys the interaction carries, normalised like the contacts' keys
        {{ normalize_email("email") }} as email,
        {{ email_key("email") }} as email_key,
        {{ clean_text("crm_id") }} as crm_id,
        {{ clean_text("cookie_id") }} as cookie_id,

        -- what
        lower({{ clean_text("interaction_type") }}) as interaction_type,
        {{ clean_text("content_url") }} as content_url,
        -- '|'-separated interest codes, lower case (text, not an array: dbt unit tests cannot mock arrays)
        -- (repeated separators collapsed only where there are any: a regular expression a row costs)
        {%- set codes = "lower(replace(interests, ' ', ''))" %}
        nullif(btrim(
            case
                when strpos({{ codes }}, '||') > 0 then regexp_replace({{ codes }}, '\|+', '|', 'g')
                else {{ codes }}
            end,
            '|'
        ), '') as interests,
        upper({{ clean_text("marketing_area") }}) as marketing_area,

        -- timestamps (checked at landing: ISO 8601, not in the future)
        cast(occurred_at as timestamptz) as occurred_at,
        loaded_at

    from source
)

select * from renamed
