{#- Every email address and phone number of every contact, with its consent and usability:
    - permission: the latest explicit statement about the address wins — an origin's opt-in flag
      as of its update, an unsubscribe or spam complaint anywhere (denied); a tie goes to denied;
      no statement is unknown;
    - usable: not hard-bounced since the last opt-in;
    - shared: blocked as a key (a generic or shared address: info@…, a switchboard);
    - best: the most trusted usable address, a personal one before a shared one (then source
      priority, most origins, most recent). -#}
with

origins as (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

interactions as (
    select * from {{ ref('stg_feed__interactions') }}
    where interaction_type in ('unsubscribe', 'spam_complaint', 'hard_bounce') and email_key is not null
),

priorities as (
    select * from {{ ref('source_priorities') }}
    where attribute = '*'
),

blocked as (
    select * from {{ ref('int_identity_keys_blocked') }}
),

held as (
    -- which contact holds which address, through which origin
    select
        current_contacts.contact_id,
        a.channel,
        a.address_key,
        a.address,
        a.opt_in,
        origins.source_system,
        origins.updated_at,
        coalesce(priorities.priority, 1000) as source_priority
    from origins
    inner join current_contacts on origins.origin_key = current_contacts.origin_key
    left join priorities on origins.source_system = priorities.source_system
    cross join
        lateral (
            values
            ('email', origins.email_key, origins.email, origins.email_opt_in),
            ('phone', origins.phone, origins.phone, origins.phone_opt_in)
        ) as a (channel, address_key, address, opt_in)
    where a.address_key is not null
),

statements as (
    select
        channel,
        address_key,
        updated_at as stated_at,
        case when opt_in then 'granted' else 'denied' end as permission
    from held
    where opt_in is not null

    union all

    select
        'email' as channel,
        email_key as address_key,
        occurred_at as stated_at,
        'denied' as permission
    from interactions
    where interaction_type in ('unsubscribe', 'spam_complaint')
),

consent as (
    select distinct on (channel, address_key)
        channel,
        address_key,
        permission,
        stated_at as permission_stated_at
    from statements
    order by channel asc, address_key asc, stated_at desc, permission = 'denied' desc
),

events as (
    select
        email_key as address_key,
        max(occurred_at) filter (where interaction_type = 'hard_bounce') as last_bounced_at,
        bool_or(interaction_type = 'unsubscribe') as has_unsubscribed
    from interactions
    group by email_key
),

addresses as (
    select
        contact_id,
        channel,
        address_key,
        mode() within group (order by address) as address,
        min(source_priority) as source_priority,
        count(*) as number_of_origins,
        max(updated_at) as last_seen_at
    from held
    group by contact_id, channel, address_key
),

assessed as (
    select
        addresses.*,
        coalesce(consent.permission, 'unknown') as permission,
        consent.permission_stated_at,
        coalesce(events.has_unsubscribed, false) as has_unsubscribed,
        events.last_bounced_at,
        blocked.key_value is not null as is_shared,
        events.last_bounced_at is null
        or (
            consent.permission = 'granted' and consent.permission_stated_at > events.last_bounced_at
        ) as is_usable
    from addresses
    left join consent
        on addresses.channel = consent.channel and addresses.address_key = consent.address_key
    left join events
        on addresses.channel = 'email' and addresses.address_key = events.address_key
    left join blocked
        on addresses.channel = blocked.key_type and addresses.address_key = blocked.key_value
)

select
    assessed.*,
    assessed.is_usable and row_number() over (
        partition by assessed.contact_id, assessed.channel
        order by
            assessed.is_usable desc,
            assessed.is_shared asc,
            assessed.source_priority asc,
            assessed.number_of_origins desc,
            assessed.last_seen_at desc nulls last,
            assessed.address_key asc
    ) = 1 as is_best
from assessed
