{#- What each contact is interested in, as of a logical date: the interest codes of its interactions
    of the last six months (vars.interests.lookback_days) up to that date, each weighted by recency
    (0.5 ^ (age in days / vars.interests.half_life_days)) and summed, ranked per contact (1 =
    strongest). Only codes of seed interest_taxonomy count (a test warns about unknown ones).

    Per contact incremental (macros/contact_changes.sql): a contact's weights change only when its
    interactions come, change or leave the six months; otherwise they all decay by the same factor,
    0.5 ^ (days since anchored_at / half_life_days), which keeps their ranks and which
    contact_interests applies. A run rebuilds the contacts of window_rebuild(interests_window())
    (macros/rebuild_sets.sql); each row says which date it was computed as of (anchored_at). -#}
{%- set settings = interests_window()["settings"] -%}
{#- (contact_id, interest) is the key of contact_interests (a view of it): one row per contact and
    interest (the group by below). No unique index for it: an incremental run deletes and inserts
    rows of the same keys in one transaction, and a unique index then visits the deleted row of
    every key inserted again (3-5 s a day at L). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{"columns": ["contact_id"]}],
        pre_hook="{{ rebuild_set_pre_hook(window_rebuild(interests_window())) }}",
        post_hook="{{ window_rebuild_post_hook(interests_window(), log_own_for=['int_contact_interest_lists']) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

interactions as (
    {{ window_interactions(interests_window(), ['interests', 'occurred_at']) }}
),

taxonomy as (
    select * from {{ ref('interest_taxonomy') }}
),

shown as (
    select
        interactions.contact_id,
        interest.code as interest,
        interactions.occurred_at,
        power(
            0.5,
            {{ days_between("interactions.occurred_at", as_of()) }} / {{ settings["half_life_days"] }}
        ) as weight
    from interactions
    cross join lateral unnest(string_to_array(interactions.interests, '|')) as interest (code)
),

weighted as (
    select
        shown.contact_id,
        shown.interest,
        -- summed exactly, so the same whatever order a plan adds them in (a float sum's last
        -- digits follow the order, and an incremental build then differs from a full one): as
        -- whole units of 1e-15 (a weight is at most 1), which PostgreSQL adds up without
        -- overflow; a cast of each weight to numeric did the same at twice the cost (it goes
        -- through text)
        {{ exact_sum('shown.weight') }} as weight,
        count(*) as interactions,
        max(shown.occurred_at) as last_seen_at
    from shown
    inner join taxonomy on shown.interest = taxonomy.interest
    group by shown.contact_id, shown.interest
)

select
    contact_id,
    interest,
    weight,
    cast(interactions as integer) as interactions,
    last_seen_at,
    cast(row_number() over (
        partition by contact_id order by weight desc, interest asc
    ) as integer) as interest_rank,
    {{ as_of() }} as anchored_at
from weighted
