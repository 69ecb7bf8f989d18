{#- The scoring seeds marketing ops edit: one row per problem found (the failing test names them). -#}
with

stages as (
    select * from {{ ref('lead_stage_definitions') }}
),

weights as (
    select * from {{ ref('score_weights') }}
),

bands as (
    select * from {{ ref('score_bands') }}
),

profile_rules as (
    select * from {{ ref('score_profile_rules') }}
),

negative_rules as (
    select * from {{ ref('score_negative_rules') }}
),

engagement_rules as (
    select * from {{ ref('score_engagement_rules') }}
),

stage_summary as (
    select
        count(*) as stages,
        count(distinct stages.stage_order) as orders,
        min(stages.stage_order) as first_order,
        max(stages.stage_order) as last_order,
        count(*) filter (where stages.milestone = 'mql') as mql_stages,
        count(*) filter (where stages.milestone = 'sql') as sql_stages,
        bool_or(
            stages.stage_order = 1
            and (
                stages.min_lead_score > 0 or stages.grades is not null or stages.engagement_levels is not null
            )
        ) as first_stage_filters
    from stages
),

problems as (
    select 'lead_stage_definitions: more than 7 stages' as problem
    from stage_summary
    where stage_summary.stages > 7
    union all
    select 'lead_stage_definitions: stage_order is not 1, 2, 3, … without gaps' as problem
    from stage_summary
    where
        stage_summary.orders <> stage_summary.stages
        or stage_summary.first_order <> 1
        or stage_summary.last_order <> stage_summary.stages
    union all
    select
        'lead_stage_definitions: the first stage must take everyone (min_lead_score 0, no criteria)'
            as problem
    from stage_summary
    where stage_summary.first_stage_filters
    union all
    select 'lead_stage_definitions: milestones mql and sql must each name one stage' as problem
    from stage_summary
    where stage_summary.mql_stages <> 1 or stage_summary.sql_stages <> 1
    union all
    select 'score_weights: profile and engagement weights must add up to 1' as problem
    from weights
    having abs(sum(weights.weight) - 1) > 0.000001 or count(*) <> 2
    union all
    select 'score_bands: ' || dimensions.dimension || ' needs a band starting at 0' as problem
    from (values ('grade'), ('level')) as dimensions (dimension)
    where
        not exists (
            select from bands
            where bands.dimension = dimensions.dimension and bands.min_score = 0
        )
    union all
    select 'score_bands: two ' || bands.dimension || ' bands start at ' || bands.min_score as problem
    from bands
    group by bands.dimension, bands.min_score
    having count(*) > 1
    union all
    select 'score_profile_rules: unknown match_kind in rule ' || profile_rules.rule as problem
    from profile_rules
    where profile_rules.match_kind not in ('equals', 'in', 'pattern', 'range')
    union all
    select 'score_negative_rules: unknown kind or applies_to in rule ' || negative_rules.rule as problem
    from negative_rules
    where
        negative_rules.kind not in ('interaction', 'email_domain', 'inactivity')
        or negative_rules.applies_to not in ('profile', 'engagement', 'lead')
    union all
    -- contact_score_reasons names each contact's points by rule alone
    select 'scoring rules: ' || named.rule || ' names rules of more than one seed' as problem
    from (
        select profile_rules.rule from profile_rules
        union all
        select engagement_rules.interaction_type as rule from engagement_rules
        union all
        select negative_rules.rule from negative_rules
    ) as named
    group by named.rule
    having count(*) > 1
    union all
    select
        'score_engagement_rules: half_life_days and cap_period_days must be positive for '
        || engagement_rules.interaction_type as problem
    from engagement_rules
    where engagement_rules.half_life_days <= 0 or engagement_rules.cap_period_days <= 0
)

select * from problems
