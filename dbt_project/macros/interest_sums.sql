-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_interests_weighted's sums (forward decay, macros/window_sums.sql): each interaction
    adds 2 ^ 41 units per interest on the landmark day, which moves every 20 half-lives (600 days
    by default) -#}

{% macro interests_landmark() -%}
    {{ return(window_landmark(20 * var("interests")["half_life_days"])) }}
{%- endmacro %}

{% macro interest_units(occurred_at) -%}
    {{ window_units("1", occurred_at, var("interests")["half_life_days"], interests_landmark(), 41) }}
{%- endmacro %}

{#- a sum of units as a weight as of the run's logical date -#}
{% macro interest_weight_of_units(units) -%}
    {{ window_units_as_of(units, var("interests")["half_life_days"], interests_landmark(), 41) }}
{%- endmacro %}

{% macro interests_added() -%}
    pg_temp.{{ this.name }}__added
{%- endmacro %}

{% macro interests_news_rows() -%}
    pg_temp.{{ this.name }}__news_rows
{%- endmacro %}

{#- The sums per contact and interest of interactions (`counted`: contact_id, interests,
    occurred_at, sign; +1 takes an interaction, -1 gives one up), of the taxonomy's codes: units,
    interactions and the last seen (of those taken) -#}
{% macro interests_summed(counted) -%}
    select
        counted.contact_id,
        interest.code as interest,
        -- units are whole numbers: summed exactly, in any order
        sum(counted.sign * {{ interest_units("counted.occurred_at") }}) as weight_units,
        sum(counted.sign) as interactions,
        max(counted.occurred_at) filter (where counted.sign > 0) as last_seen_at
    from {{ counted }} as counted
    cross join lateral unnest(string_to_array(counted.interests, '|')) as interest (code)
    inner join {{ ref('interest_taxonomy') }} as taxonomy on interest.code = taxonomy.interest
    group by counted.contact_id, interest.code
{%- endmacro %}

{#- pre-hook, on an incremental build: the contacts counted whole again (window_recounted()), the
    interactions whose units the other contacts' sums take or give up (interests_added():
    window_news()), and those contacts' rows as they become (interests_news_rows(): their kept
    sums plus what they take, ranked again; an interest with no interaction left goes, the newest
    one kept stays the last seen, as those that leave are the oldest), each marked whether it is
    written (new, or its sums or rank moved) and whether the kept row goes (moved, or left). A
    new interest can move the ranks of a contact's others, so those are compared too. -#}
{% macro interests_sums_pre_hook(window) -%}
    {%- if is_incremental() %}
        {{ window_recounted_pre_hook(window, "weight_units") }}

        create temporary table {{ interests_added() }} on commit drop as
        {{ window_news(window, "news", ["contact_id", "interests", "occurred_at"]) }};
        analyze {{ interests_added() }};

        create temporary table {{ interests_news_rows() }} on commit drop as
        with

        kept as (
            select
                this.contact_id,
                this.interest,
                this.weight_units,
                this.interactions,
                this.last_seen_at,
                this.interest_rank
            from {{ this }} as this
            where this.contact_id in (select added.contact_id from {{ interests_added() }} as added)
        ),

        taken as (
            {{ interests_summed(interests_added()) }}
        ),

        -- each kept row with what it takes, and the interests new to a contact (one join, which
        -- also keeps the row as it was to compare: summing the kept rows and the taken ones in one
        -- aggregate and joining the kept ones again cost twice as much at L)
        summed as (
            select
                coalesce(kept.contact_id, taken.contact_id) as contact_id,
                coalesce(kept.interest, taken.interest) as interest,
                coalesce(kept.weight_units, 0) + coalesce(taken.weight_units, 0) as weight_units,
                coalesce(kept.interactions, 0) + coalesce(taken.interactions, 0) as interactions,
                -- (greatest() passes over a null)
                greatest(kept.last_seen_at, taken.last_seen_at) as last_seen_at,
                kept.contact_id is not null as is_kept,
                kept.weight_units as kept_weight_units,
                kept.interactions as kept_interactions,
                kept.last_seen_at as kept_last_seen_at,
                kept.interest_rank as kept_interest_rank
            from kept
            full join taken on kept.contact_id = taken.contact_id and kept.interest = taken.interest
        ),

        ranked as (
            select
                summed.*,
                summed.interactions > 0 as is_shown,
                row_number() over (
                    partition by summed.contact_id, summed.interactions > 0
                    order by summed.weight_units desc, summed.interest asc
                ) as interest_rank
            from summed
        ),

        compared as (
            select
                ranked.*,
                ranked.is_kept and ranked.is_shown
                and (ranked.weight_units, ranked.interactions, ranked.interest_rank)
                = (ranked.kept_weight_units, ranked.kept_interactions, ranked.kept_interest_rank)
                and ranked.last_seen_at is not distinct from ranked.kept_last_seen_at as is_unchanged
            from ranked
        )

        select
            compared.contact_id,
            compared.interest,
            compared.weight_units,
            compared.interactions,
            compared.last_seen_at,
            compared.interest_rank,
            compared.is_shown and not compared.is_unchanged as is_written,
            compared.is_kept and not compared.is_unchanged as is_replaced
        from compared;
        analyze {{ interests_news_rows() }};
    {%- endif %}
{%- endmacro %}

{#- the (contact, interest) rows an incremental build replaces: every row of the contacts counted
    again (the select writes all of theirs), and of the others those that move or go -#}
{% macro interests_rebuild() -%}
    {{ window_recounted_rows('interest') }}
    union all
    select news_rows.contact_id, news_rows.interest
    from {{ interests_news_rows() }} as news_rows
    where news_rows.is_replaced
{%- endmacro %}
