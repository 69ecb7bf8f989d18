{#- contact_id ↔ origin: every source record (and web cookie) of every contact, the key it matched
    on, and which best-record attributes it supplies. -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{ config(indexes=[{'columns': ['contact_id']}]) }}
with

-- not materialized: PostgreSQL materialises a CTE named more than once, and a plan reading a
-- materialised CTE runs in one process (and guesses its sizes); the tables are read once per use
origins as not materialized (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as not materialized (
    select * from {{ ref('int_contact_origins_current') }}
),

keys as (
    select * from {{ ref('int_identity_keys') }}
),

edges as (
    select * from {{ ref('int_identity_edges') }}
),

blocked as (
    select * from {{ ref('int_identity_keys_blocked') }}
),

attributes as (
    select * from {{ ref('int_contact_attributes_survived') }}
),

addresses as (
    select * from {{ ref('int_contact_addresses') }}
    where is_best
),

shared_keys as (
    -- the usable keys an origin shares with another origin of its contact
    select
        origin_key,
        key_type,
        priority
    from (
        select
            keys.origin_key,
            keys.key_type,
            keys.priority,
            count(*) over (partition by current_contacts.contact_id, keys.key_type, keys.key_value) as holders
        from keys
        inner join current_contacts on keys.origin_key = current_contacts.origin_key
        left join blocked on keys.key_type = blocked.key_type and keys.key_value = blocked.key_value
        where keys.links_origins and blocked.key_type is null
    ) as contact_keys
    where holders > 1
),

matched_on as (
    select distinct on (origin_key)
        origin_key,
        key_type
    from shared_keys
    order by origin_key asc, priority asc
),

fuzzy as (
    select origins.origin_key
    from edges
    inner join origins on edges.source_node_id = origins.node_id
    where edges.rule = 'fuzzy_name'
),

supplied as (
    select
        origin_key,
        array_agg(attribute order by attribute) as attributes
    from (
        select
            origin_key,
            attribute
        from attributes
        union all
        select
            origins.origin_key,
            addresses.channel
        from addresses
        inner join origins
            on
                addresses.address_key
                = case when addresses.channel = 'email' then origins.email_key else origins.phone end
        inner join current_contacts
            on
                origins.origin_key = current_contacts.origin_key
                and addresses.contact_id = current_contacts.contact_id
    ) as s
    group by origin_key
),

final as (
    select
        -- ids
        current_contacts.contact_id,
        origins.source_system,
        origins.source_record_id,
        origins.origin_type,

        -- how it joined its contact
        coalesce(matched_on.key_type, case when fuzzy.origin_key is not null then 'fuzzy_name' end)
            as matched_on,
        coalesce(supplied.attributes, '{}') as supplied_attributes,

        -- when
        current_contacts.contact_since,
        origins.first_seen_at,
        origins.updated_at

    from current_contacts
    inner join origins on current_contacts.origin_key = origins.origin_key
    left join matched_on on origins.origin_key = matched_on.origin_key
    left join fuzzy on origins.origin_key = fuzzy.origin_key
    left join supplied on origins.origin_key = supplied.origin_key
)

select * from final
