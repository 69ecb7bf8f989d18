{#- Provisional best record for the foundation slice: origins sharing a normalised email are one
    contact, the most recently updated origin supplies the attributes. Identity resolution over
    every key, survivorship by source priority and stable ids replace this (issue: golden record). -#}
with

origins as (
    select * from {{ ref('stg_feed__contacts') }}
),

latest_per_origin as (
    -- raw is append-only: keep the latest landed version of each source record
    select distinct on (source_system, source_record_id) *
    from origins
    order by source_system asc, source_record_id asc, updated_at desc, loaded_at desc
),

with_email as (
    select
        *,
        row_number() over (partition by email order by updated_at desc, source_record_id asc) as recency_rank,
        count(*) over (partition by email) as number_of_origins,
        min(updated_at) over (partition by email) as first_seen_at
    from latest_per_origin
    where email is not null
),

final as (
    select
        -- ids
        md5('email:' || email) as contact_id,

        -- best record
        email,
        phone,
        first_name,
        last_name,
        job_title,
        company,
        country,
        marketing_area,

        -- consent: the latest explicit statement wins
        case
            when email_opt_in then 'granted'
            when not email_opt_in then 'denied'
            else 'unknown'
        end as email_permission,
        case
            when phone_opt_in then 'granted'
            when not phone_opt_in then 'denied'
            else 'unknown'
        end as phone_permission,

        -- timestamps and counts
        first_seen_at,
        cast(null as timestamptz) as last_interaction_at,
        cast(number_of_origins as integer) as number_of_origins

    from with_email
    where recency_rank = 1
)

select * from final
