{#- What each contact is interested in: the interest codes of its interactions of the last six
    months (vars.interests.lookback_days) up to the run's logical date, each weighted by recency
    (0.5 ^ (age in days / vars.interests.half_life_days)) and summed, ranked per contact (1 = strongest).
    Only codes of seed interest_taxonomy count (a test warns about unknown ones). -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{ config(indexes=[{'columns': ['contact_id']}]) }}
with

interactions as (
    select * from {{ ref('fct_interactions') }}
    where
        contact_id is not null
        and interests is not null
        and occurred_at <= {{ as_of() }}
        and occurred_at > {{ as_of() }} - interval '{{ var("interests")["lookback_days"] }} days'
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
            {{ days_between("interactions.occurred_at", as_of()) }}
            / {{ var("interests")["half_life_days"] }}
        ) as weight
    from interactions
    cross join lateral unnest(string_to_array(interactions.interests, '|')) as interest (code)
),

weighted as (
    select
        shown.contact_id,
        shown.interest,
        sum(shown.weight) as weight,
        count(*) as interactions,
        max(shown.occurred_at) as last_seen_at
    from shown
    inner join taxonomy on shown.interest = taxonomy.interest
    group by shown.contact_id, shown.interest
)

select
    weighted.contact_id,
    weighted.interest,
    taxonomy.name as interest_name,
    taxonomy.category,
    cast(weighted.weight as numeric(10, 4)) as weight,
    cast(weighted.interactions as integer) as interactions,
    weighted.last_seen_at,
    cast(row_number() over (
        partition by weighted.contact_id order by weighted.weight desc, weighted.interest asc
    ) as integer) as interest_rank,
    {{ as_of() }} as computed_at
from weighted
inner join taxonomy on weighted.interest = taxonomy.interest
