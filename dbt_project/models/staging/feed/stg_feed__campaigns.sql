with

source as (
    select * from {{ ref('base_feed__campaigns') }}
),

renamed as (
    select
        -- ids
        source_system,
        btrim(campaign_id) as campaign_id,
        load_id,

        -- what
        {{ clean_text("name") }} as name,
        lower({{ clean_text("channel") }}) as channel,

        -- timestamps (started_at checked at landing; ended_at may be empty)
        cast(started_at as timestamptz) as started_at,
        cast(nullif(btrim(ended_at), '') as timestamptz) as ended_at,
        loaded_at

    from source
)

select * from renamed
