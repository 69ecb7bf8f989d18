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
    build gives the same units. Those contacts' rows are replaced, and of the others the rows whose
    sums or rank moved (a new interest can move the ranks of a contact's others); the other rows
    stay as they were. weight is the sum as of the date the row was written (anchored_at); all of
    a contact's weights decay by the same factor, which keeps their ranks and which
    contact_interests applies.
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
        unique_key=["contact_id", "interest"],
        on_schema_change="fail",
        indexes=[{"columns": ["contact_id"]}],
        pre_hook=[
            "{{ interests_sums_pre_hook(interests_window()) }}",
            "{{ rebuild_set_pre_hook(interests_rebuild(), key=['contact_id', 'interest']) }}",
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

counted as (
    select
        interactions.contact_id,
        interactions.interests,
        interactions.occurred_at,
        1 as sign
    from interactions
),

summed as (
    {{ interests_summed('counted') }}
),

ranked as (
    select
        summed.*,
        row_number() over (
            partition by summed.contact_id order by summed.weight_units desc, summed.interest asc
        ) as interest_rank
    from summed
    {%- if is_incremental() %}
        -- and the other contacts' rows that take or give up interactions and so move (the
        -- pre-hook's: macros/interest_sums.sql)
        union all
        select
            news_rows.contact_id,
            news_rows.interest,
            news_rows.weight_units,
            news_rows.interactions,
            news_rows.last_seen_at,
            news_rows.interest_rank
        from {{ interests_news_rows() }} as news_rows
        where news_rows.is_written
    {%- endif %}
)

select
    contact_id,
    interest,
    {{ interest_weight_of_units("weight_units") }} as weight,
    cast(interactions as integer) as interactions,
    last_seen_at,
    cast(interest_rank as integer) as interest_rank,
    {{ as_of() }} as anchored_at,
    weight_units
from ranked
where interactions > 0
