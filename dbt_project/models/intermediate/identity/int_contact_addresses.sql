{#- Every email address and phone number of every contact, with its consent and usability:
    - permission: the latest explicit statement about the address wins — an origin's opt-in flag
      as of its update, an unsubscribe or spam complaint anywhere (denied); a tie goes to denied;
      no statement is unknown;
    - usable: not hard-bounced since the last opt-in;
    - shared: blocked as a key (a generic or shared address: info@…, a switchboard);
    - best: the most trusted usable address, a personal one before a shared one (then source
      priority, most origins, most recent).

    Per contact incremental (macros/contact_changes.sql): an address's consent is stated by every
    origin that holds it, whichever its contact, so a run rebuilds the contacts logged in
    int_contact_changes since its last build and every contact holding an address that
    - one of those contacts holds, or held before,
    - has new unsubscribes, spam complaints or bounces (int_email_events),
    - was blocked or unblocked as a shared key;
    and the contacts logged as 'seen', which no model before rebuilds (a cookie holding an email
    came back: the address's last_seen_at moved, which may pick another best address);
    every contact when source_priorities changed: the rebuild set of contact_addresses_rebuild()
    (macros/rebuild_sets.sql). It logs the contacts it rebuilt beyond the logged ones, for
    dim_contacts, contact_origins, contact_addresses and the accounts: as 'restated' those whose
    addresses changed only in dates and counts (addresses_read_by_best_record()), which only
    contact_addresses rebuilds. -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        indexes=[{"columns": ["contact_id"]}],
        pre_hook=[
            "{{ rebuild_set_pre_hook(contact_addresses_rebuild()) }}",
            "{{ addresses_before_pre_hook() }}",
        ],
        post_hook=[
            "{{ addresses_restated_post_hook() }}",
            "{{ contact_rebuild_post_hook(
                rules=[ref('source_priorities')],
                log_own_for=['dim_contacts', 'contact_origins', 'contact_addresses', 'int_contact_accounts'],
                restated=addresses_restated()
            ) }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_identity_key_values') }}
with

-- not materialized: PostgreSQL materialises a CTE named more than once (to disk, at 1 M contacts),
-- where the few rebuilt contacts' origins are looked up by index
origins as not materialized (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

email_events as (
    select * from {{ ref('int_email_events') }}
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
    where a.address_key is not null and {{ in_rebuild_set('current_contacts.contact_id') }}
),

statements as (
    -- every origin's statement about the addresses held (whichever its contact)
    select
        a.channel,
        a.address_key,
        origins.updated_at as stated_at,
        case when a.opt_in then 'granted' else 'denied' end as permission
    from origins
    cross join
        lateral (
            values
            ('email', origins.email_key, origins.email_opt_in),
            ('phone', origins.phone, origins.phone_opt_in)
        ) as a (channel, address_key, opt_in)
    where
        a.opt_in is not null
        {%- if is_incremental() %}
            and (
                origins.email_key in (
                    select held.address_key from held
                    where held.channel = 'email'
                )
                or origins.phone in (
                    select held.address_key from held
                    where held.channel = 'phone'
                )
            )
        {%- endif %}

    union all

    select
        'email' as channel,
        email_key as address_key,
        last_denied_at as stated_at,
        'denied' as permission
    from email_events
    where last_denied_at is not null
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
        coalesce(email_events.has_unsubscribed, false) as has_unsubscribed,
        email_events.last_bounced_at,
        blocked.key_value is not null as is_shared,
        email_events.last_bounced_at is null
        or (
            consent.permission = 'granted' and consent.permission_stated_at > email_events.last_bounced_at
        ) as is_usable
    from addresses
    left join consent
        on addresses.channel = consent.channel and addresses.address_key = consent.address_key
    left join email_events
        on addresses.channel = 'email' and addresses.address_key = email_events.email_key
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
