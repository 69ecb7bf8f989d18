{#- contact_id ↔ origin: every source record (and web cookie) of every contact, the key it matched
    on, and which best-record attributes it supplies. -#}
{#- Per contact incremental (macros/contact_changes.sql): a run rebuilds the contacts logged in
    int_contact_changes since its last build (by int_contact_addresses too: a best address may
    have changed; the best record's attributes change only with the contact's origins), those
    holding a blocked key a logged contact holds, every contact when identity_key_rules or
    identity_blocked_keys changed: the rebuild set of contact_origins_rebuild()
    (macros/rebuild_sets.sql). The contacts logged only for a cookie's visit get its two times by
    an update instead (contact_origins_visits_update(), macros/origin_visits.sql). A new column
    needs --full-refresh (on_schema_change: fail). -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{'columns': ['contact_id']}],
        pre_hook="{{ rebuild_set_pre_hook(contact_origins_rebuild()) }}",
        post_hook=[
            "{{ contact_origins_visits_update() }}",
            "{{ contact_rebuild_post_hook(
                rules=[ref('identity_key_rules'), ref('identity_blocked_keys')],
                upstream=['int_contact_addresses', 'int_contact_attributes_survived']
            ) }}",
            "{{ ensure_unique_index(['source_system', 'source_record_id'], deferred=true) }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_identity_key_values') }}
-- depends_on: {{ ref('identity_key_rules') }}
-- depends_on: {{ ref('identity_blocked_keys') }}
with

-- not materialized: PostgreSQL materialises a CTE named more than once, and a plan reading a
-- materialised CTE runs in one process (and guesses its sizes); the tables are read once per use
origins as not materialized (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as not materialized (
    select * from {{ ref('int_contact_origins_current') }}
),

keys as not materialized (
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

{% if is_incremental() %}
    -- The rebuild set's origins and their keys, looked up by index: a lateral subquery with
    -- "offset 0" stays one lookup per row. Joined plainly, the planner hashed all 2.4 M current
    -- origins, origins and 3.8 M keys for some 90 k origins, once per use (1 M contacts, 62 k
    -- rebuilt: 4.5 s → 3.5 s for this select, replays alternating). A full build joins the
    -- whole tables.
    rebuilt_origins as materialized (
        select
            current_contacts.contact_id,
            current_contacts.contact_since,
            origins.*
        from {{ rebuild_set() }} as rebuilt
        cross join
            lateral (
                select current_contacts.* from current_contacts
                where current_contacts.contact_id = rebuilt.contact_id
                offset 0  -- noqa: AM09
            ) as current_contacts
        cross join
            lateral (
                select origins.* from origins
                where origins.origin_key = current_contacts.origin_key
                offset 0  -- noqa: AM09
            ) as origins
    ),

    origin_keys as (
        select
            rebuilt_origins.contact_id,
            keys.*
        from rebuilt_origins
        cross join
            lateral (
                select keys.* from keys
                where keys.origin_key = rebuilt_origins.origin_key
                offset 0  -- noqa: AM09
            ) as keys
    ),
{% else %}
    rebuilt_origins as not materialized (
        select
            current_contacts.contact_id,
            current_contacts.contact_since,
            origins.*
        from current_contacts
        inner join origins on current_contacts.origin_key = origins.origin_key
        where current_contacts.contact_id is not null
    ),

    origin_keys as (
        select
            current_contacts.contact_id,
            keys.*
        from keys
        inner join current_contacts on keys.origin_key = current_contacts.origin_key
    ),
{% endif %}

shared_keys as (
    -- the usable keys an origin shares with another origin of its contact
    select
        origin_key,
        key_type,
        priority
    from (
        select
            origin_keys.origin_key,
            origin_keys.key_type,
            origin_keys.priority,
            count(*) over (
                partition by origin_keys.contact_id, origin_keys.key_type, origin_keys.key_value
            ) as holders
        from origin_keys
        left join blocked
            on origin_keys.key_type = blocked.key_type and origin_keys.key_value = blocked.key_value
        where origin_keys.links_origins and blocked.key_type is null
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
        where {{ in_rebuild_set('contact_id') }}
        union all
        select
            rebuilt_origins.origin_key,
            addresses.channel
        from rebuilt_origins
        inner join addresses
            on
                rebuilt_origins.contact_id = addresses.contact_id
                and addresses.address_key
                = case
                    when addresses.channel = 'email' then rebuilt_origins.email_key else rebuilt_origins.phone
                end
        where {{ in_rebuild_set('addresses.contact_id') }}
    ) as s
    group by origin_key
),

final as (
    select
        -- ids
        rebuilt_origins.contact_id,
        rebuilt_origins.source_system,
        rebuilt_origins.source_record_id,
        rebuilt_origins.origin_type,

        -- how it joined its contact
        coalesce(matched_on.key_type, case when fuzzy.origin_key is not null then 'fuzzy_name' end)
            as matched_on,
        coalesce(supplied.attributes, '{}') as supplied_attributes,

        -- when
        rebuilt_origins.contact_since,
        rebuilt_origins.first_seen_at,
        rebuilt_origins.updated_at

    from rebuilt_origins
    left join matched_on on rebuilt_origins.origin_key = matched_on.origin_key
    left join fuzzy on rebuilt_origins.origin_key = fuzzy.origin_key
    left join supplied on rebuilt_origins.origin_key = supplied.origin_key
)

select * from final
