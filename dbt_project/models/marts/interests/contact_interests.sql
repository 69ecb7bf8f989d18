{#- What each contact is interested in: the interest codes of its interactions of the last six
    months (vars.interests.lookback_days) up to the run's logical date, each weighted by recency
    (0.5 ^ (age in days / vars.interests.half_life_days)) and summed, ranked per contact (1 = strongest).
    Only codes of seed interest_taxonomy count (a test warns about unknown ones).

    The weights come from int_contact_interests_weighted, computed as of the day each contact's
    interactions last changed (anchored_at), and decay here to the run's date: every interest of
    a contact by the same factor, so the ranks stand.

    A view, computed when read: the decay is all that changes for most contacts from one day to the
    next, and as a table it rewrote all 2.6 M rows at L every day (14.5 s, and 0.56 GB written). The
    run's date is part of the view's text, rebuilt every run. It filters its rows for the reader
    itself (macros/bi_access.sql), as BI roles read no intermediate table. Looked up per contact
    (leadflow explain, the transfer monitor, BI drill-downs) through the intermediate's index on
    contact_id. -#}
{{
    config(
        materialized="view",
        post_hook="{{ self_filtering_view() }}",
    )
}}

with

weighted as (
    select * from {{ ref('int_contact_interests_weighted') }}
),

taxonomy as (
    select * from {{ ref('interest_taxonomy') }}
),

decayed as not materialized (
    select
        weighted.contact_id,
        weighted.interest,
        taxonomy.name as interest_name,
        taxonomy.category,
        cast({{ interest_weight_as_of('weighted') }} as numeric(10, 4)) as weight,
        weighted.interactions,
        weighted.last_seen_at,
        weighted.interest_rank,
        {{ as_of() }} as computed_at
    from weighted
    inner join taxonomy on weighted.interest = taxonomy.interest
)

{{ rows_the_reader_sees('decayed', ref('dim_contacts')) }}
