with

source as (
    select * from {{ ref('base_feed__opportunities') }}
),

renamed as (
    select
        -- ids
        source_system,
        btrim(opportunity_id) as opportunity_id,
        load_id,
        {{ clean_text("crm_id") }} as crm_id,

        -- account
        {{ clean_text("account") }} as account,
        {{ company_match_key("account") }} as account_key,

        -- outcome
        lower({{ clean_text("status") }}) as status,
        cast(nullif(btrim(amount), '') as numeric(18, 2)) as amount,

        -- timestamps (created_at checked at landing; closed_at may be empty)
        cast(created_at as timestamptz) as created_at,
        cast(nullif(btrim(closed_at), '') as timestamptz) as closed_at,
        loaded_at

    from source
)

select * from renamed
