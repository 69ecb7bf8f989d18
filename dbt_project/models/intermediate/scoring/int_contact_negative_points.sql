{#- Scores also go down (seed score_negative_rules), as of the run's logical date:
    - interaction: the contact ever had one of that type (unsubscribe, hard bounce, spam complaint)
      — counted once, however often;
    - email_domain: any of the contact's email addresses is at one of the listed domains (competitors);
    - inactivity: no inbound interaction for match_value days (since the last one, or since the
      contact was first seen): points for every further per_days, down to cap_points.
    applies_to says which score takes the points: profile, engagement or lead (after combining). -#}
{#- unique (contact_id, rule), the key of contact_score_reasons' negative rows (a view of it), and
    its index for lookups by contact: built whole, the table pays nothing for it but the index -#}
{{
    config(
        indexes=[{"columns": ["contact_id", "rule"], "unique": true}],
    )
}}

with

contacts as (
    select * from {{ ref('dim_contacts') }}
    where first_seen_at <= {{ as_of() }}
),

interactions as (
    select * from {{ ref('fct_interactions') }}
    where contact_id is not null and occurred_at <= {{ as_of() }}
),

addresses as (
    select * from {{ ref('int_contact_addresses') }}
    where channel = 'email'
),

rules as not materialized (
    select * from {{ ref('score_negative_rules') }}
),

-- the rules' few interaction types looked up by fct_interactions' interaction_type index
by_interaction as (
    select
        interactions.contact_id,
        rules.rule,
        max(rules.points) as points,
        cast(count(*) as integer) as interactions
    from interactions
    inner join rules on rules.kind = 'interaction' and interactions.interaction_type = rules.match_value
    group by interactions.contact_id, rules.rule
),

by_domain as (
    select
        addresses.contact_id,
        rules.rule,
        max(rules.points) as points,
        cast(null as integer) as interactions
    from addresses
    inner join rules
        on
            rules.kind = 'email_domain'
            and split_part(addresses.address, '@', 2) = any(string_to_array(lower(rules.match_value), '|'))
    group by addresses.contact_id, rules.rule
),

-- the last inbound interaction up to the logical date, from dim_contacts (macros/last_inbound.sql)
last_inbound as (
    select
        contacts.contact_id,
        contacts.first_seen_at,
        {{ last_inbound_at('contacts.contact_id', 'contacts.last_interaction_at') }} as last_inbound_at
    from contacts
),

inactive_days as (
    select
        contact_id,
        extract(epoch from {{ as_of() }} - greatest(last_inbound_at, first_seen_at)) / 86400.0 as days
    from last_inbound
),

by_inactivity as (
    select
        inactive_days.contact_id,
        rules.rule,
        greatest(
            rules.cap_points,
            rules.points * floor((inactive_days.days - cast(rules.match_value as numeric)) / rules.per_days)
        ) as points,
        cast(null as integer) as interactions
    from inactive_days
    inner join rules on rules.kind = 'inactivity'
    where inactive_days.days >= cast(rules.match_value as numeric) + rules.per_days
),

all_points as (
    select * from by_interaction
    union all
    select * from by_domain
    union all
    select * from by_inactivity
)

select
    all_points.contact_id,
    all_points.rule,
    rules.applies_to,
    rules.description,
    all_points.interactions,
    cast(all_points.points as numeric(10, 2)) as points
from all_points
inner join rules on all_points.rule = rules.rule
