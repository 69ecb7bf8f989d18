{#- Which campaigns earned each opportunity. The touches of an opportunity are the inbound
    interactions with a campaign of its contact (the CRM id it names; an opportunity naming only an
    account: every contact of that account) in the vars.attribution.lookback_days before it was
    created. Five models share out a credit of 1 per opportunity (one row per opportunity, campaign
    and model; a campaign touched several times adds up its touches' credits):
    - first_touch / last_touch: all to the earliest / latest touch (touches at the same moment share it);
    - linear: equal shares;
    - position_based: one touch gets 1; two get 0.5 each; more get first and last
      vars.attribution.position_based_first / _last (40 % / 40 %) and the middle ones share the rest;
    - time_decay: shares proportional to 0.5 ^ (days before creation / time_decay_half_life_days).
    revenue_credit = amount × credit. Only opportunities created by the run's logical date count. -#}
{#- Per opportunity incremental (macros/opportunity_changes.sql): a run redoes the opportunities
    whose contacts, versions or touches may have changed and those its date reaches; the others'
    credits stand (and are dated as of the run). -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["source_system", "opportunity_id"],
        on_schema_change="fail",
        pre_hook="{{ attribution_pre_hook() }}",
        post_hook="{{ attribution_post_hook() }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
with

-- each opportunity (its latest version) with the contacts it counts for
opportunity_contacts as (
    select * from {{ ref('int_opportunity_contacts') }}
    where
        created_at <= {{ as_of() }}
        and contact_id is not null
        and {{ in_rebuild_set('(source_system, opportunity_id)', key=attribution_key()) }}
),

interactions as (
    select * from {{ ref('fct_interactions') }}
    where contact_id is not null and campaign_id is not null and direction = 'inbound'
),

touches as (
    select
        opportunity_contacts.source_system,
        opportunity_contacts.opportunity_id,
        opportunity_contacts.amount,
        interactions.campaign_id,
        interactions.interaction_key,
        interactions.occurred_at,
        {{ days_between("interactions.occurred_at", "opportunity_contacts.created_at") }} as days_before
    from opportunity_contacts
    inner join interactions
        on
            opportunity_contacts.contact_id = interactions.contact_id
            and opportunity_contacts.created_at >= interactions.occurred_at
            and interactions.occurred_at
            > opportunity_contacts.created_at - interval '{{ var("attribution")["lookback_days"] }} days'
),

decayed as (
    select
        *,
        power(0.5, days_before / {{ var("attribution")["time_decay_half_life_days"] }}) as decay
    from touches
),

ordered as (
    select
        *,
        count(*) over opportunity as touches,
        row_number() over (opportunity order by occurred_at asc, interaction_key asc) as position,
        count(*) over (partition by source_system, opportunity_id, occurred_at) as at_same_moment,
        occurred_at = min(occurred_at) over opportunity as is_first,
        occurred_at = max(occurred_at) over opportunity as is_last,
        -- in the same pass as the other totals (a window of its own read every touch once more)
        sum(decay) over opportunity as opportunity_decay
    from decayed
    window opportunity as (partition by source_system, opportunity_id)
),

credited as (
    select
        *,
        case when is_first then 1.0 / at_same_moment else 0 end as first_touch,
        case when is_last then 1.0 / at_same_moment else 0 end as last_touch,
        1.0 / touches as linear,
        case
            when touches = 1 then 1.0
            when touches = 2 then 0.5
            when position = 1 then {{ var("attribution")["position_based_first"] }}
            when position = touches then {{ var("attribution")["position_based_last"] }}
            else (
                1.0 - {{ var("attribution")["position_based_first"] }}
                - {{ var("attribution")["position_based_last"] }}
            ) / (touches - 2)
        end as position_based,
        cast(decay / opportunity_decay as numeric) as time_decay
    from ordered
),

by_campaign as (
    -- a campaign's touches of an opportunity added up once for all five models, before they
    -- become five rows each (summing after the split sorted five times the touches)
    select
        source_system,
        opportunity_id,
        campaign_id,
        amount,
        count(*) as touches,
        sum(first_touch) as first_touch,
        sum(last_touch) as last_touch,
        sum(linear) as linear,
        sum(position_based) as position_based,
        sum(time_decay) as time_decay
    from credited
    group by source_system, opportunity_id, campaign_id, amount
),

by_model as (
    select
        by_campaign.source_system,
        by_campaign.opportunity_id,
        by_campaign.campaign_id,
        by_campaign.amount,
        by_campaign.touches,
        m.model,
        m.credit
    from by_campaign
    cross join
        lateral (
            values
            ('first_touch', by_campaign.first_touch),
            ('last_touch', by_campaign.last_touch),
            ('linear', by_campaign.linear),
            ('position_based', by_campaign.position_based),
            ('time_decay', by_campaign.time_decay)
        ) as m (model, credit)
)

select
    source_system,
    opportunity_id,
    campaign_id,
    model,
    cast(touches as integer) as touches,
    cast(credit as numeric(12, 10)) as credit,
    cast(amount * credit as numeric(18, 2)) as revenue_credit,
    {{ as_of() }} as attributed_at
from by_model
where credit > 0
