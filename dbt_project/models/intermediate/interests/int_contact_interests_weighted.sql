{#- What each contact is interested in, as of a logical date: the interest codes of its interactions
    of the last six months (vars.interests.lookback_days) up to that date, each weighted by recency
    (0.5 ^ (age in days / vars.interests.half_life_days)) and summed, ranked per contact (1 =
    strongest). Only codes of seed interest_taxonomy count (a test warns about unknown ones).

    The sums are kept as of a fixed day, the landmark (macros/interest_sums.sql), in exact units
    (weight_units): they do not change with the date, so an incremental run adds to them the
    interactions that are new or came into the six months and takes off those that left, for the
    contacts with such news, instead of counting their six months again; it counts again only the
    contacts whose interactions were re-sent or moved, or whose identity changed (and every
    contact when the taxonomy, the settings or the landmark changed, or for a backfill). A full
    build gives the same units. Those contacts' rows are replaced; the others' stay as they were.
    weight is the sum as of the date the row was written (anchored_at); all of a contact's
    weights decay by the same factor, which keeps their ranks and which contact_interests applies.
    (Before, a run counted every touched contact's six months again: a tenth of the contacts a day
    at L, 1.5 M interactions.) -#}
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
        pre_hook=[
            "{{ interests_sums_pre_hook(interests_window()) }}",
            "{{ rebuild_set_pre_hook(interests_rebuild()) }}",
        ],
        post_hook="{{ window_rebuild_post_hook(interests_window(), log_own_for=['int_contact_interest_lists']) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

-- the interactions of the contacts counted whole: every contact on a first or full build, else
-- those counted again
interactions as (
    {{ window_interactions(
        interests_window(), ['interests', 'occurred_at'],
        contacts=window_recounted() if is_incremental() else none
    ) }}
),

-- and on an incremental build the interactions the other contacts' sums take (+1) or give up (-1)
counted as (
    select
        interactions.contact_id,
        interactions.interests,
        interactions.occurred_at,
        1 as sign
    from interactions
    {%- if is_incremental() %}
        union all
        select
            added.contact_id,
            added.interests,
            added.occurred_at,
            added.sign
        from {{ interests_added() }} as added
    {%- endif %}
),

taxonomy as (
    select * from {{ ref('interest_taxonomy') }}
),

shown as (
    select
        counted.contact_id,
        interest.code as interest,
        counted.occurred_at,
        counted.sign,
        counted.sign * {{ interest_units("counted.occurred_at") }} as units
    from counted
    cross join lateral unnest(string_to_array(counted.interests, '|')) as interest (code)
),

summed as (
    select
        shown.contact_id,
        shown.interest,
        -- units are whole numbers: summed exactly, in any order
        sum(shown.units) as weight_units,
        sum(shown.sign) as interactions,
        max(shown.occurred_at) filter (where shown.sign > 0) as last_seen_at
    from shown
    inner join taxonomy on shown.interest = taxonomy.interest
    group by shown.contact_id, shown.interest
),

{% if is_incremental() %}
    -- the sums so far of the contacts whose sums take interactions, and what they take (an
    -- interest with no interaction left goes; the newest one kept stays the last seen, as those
    -- that leave are the oldest)
    kept as (
        select
            this.contact_id,
            this.interest,
            this.weight_units,
            this.interactions,
            this.last_seen_at
        from {{ this }} as this
        where this.contact_id in (select added.contact_id from {{ interests_added() }} as added)
    ),

    weighted as (
        select
            contact_id,
            interest,
            sum(weight_units) as weight_units,
            sum(interactions) as interactions,
            max(last_seen_at) as last_seen_at
        from (
            select * from kept
            union all
            select * from summed
        ) as sums
        group by contact_id, interest
    )
{% else %}
    weighted as (
        select * from summed
    )
{% endif %}

select
    contact_id,
    interest,
    {{ interest_weight_of_units("weight_units") }} as weight,
    cast(interactions as integer) as interactions,
    last_seen_at,
    cast(row_number() over (
        partition by contact_id order by weight_units desc, interest asc
    ) as integer) as interest_rank,
    {{ as_of() }} as anchored_at,
    weight_units
from weighted
where interactions > 0
