{#- Profile fit (who they are): for every contact and profile criterion, the best-scoring rule of
    seed score_profile_rules that its best record matches (a criterion's rules are its tiers).
    Match kinds: equals, in ('|'-separated), pattern (case-insensitive regular expression) and range
    (numeric bounds, either open). company_size_min is the lower bound of the size band ("250-999").

    Per contact incremental (macros/contact_changes.sql): a contact's points follow from its best
    record alone (no date, no interactions), so a run rebuilds the contacts logged in
    int_contact_changes since its last build, those survivorship rebuilt for a reason of its own,
    and every contact when score_profile_rules changed. -#}
{#- (contact_id, rule) is the key of contact_score_reasons' profile rows (a view of it): one row
    per contact and criterion, whose rules are its tiers (and rule names unique in the seed). No
    unique index for it: an incremental run deletes and inserts rows of the same keys in one
    transaction, and a unique index then visits the deleted row of every key inserted again. -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="delete+insert",
        unique_key="contact_id",
        on_schema_change="fail",
        indexes=[{"columns": ["contact_id"]}],
        post_hook="{{ contact_rebuild_post_hook(
            rules=[ref('score_profile_rules')], upstream=['int_contact_attributes_survived']
        ) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
with

-- not materialized: PostgreSQL materialises a CTE named more than once, and a plan reading a
-- materialised CTE runs in one process (and guesses its sizes)
attributes as not materialized (
    select * from {{ ref('int_contact_attributes_survived') }}
    where {{ rebuild_filter(
        'contact_id', rules=[ref('score_profile_rules')], upstream=['int_contact_attributes_survived']
    ) }}
),

rules as (
    select * from {{ ref('score_profile_rules') }}
),

attribute_values as (
    select
        contact_id,
        attribute,
        value
    from attributes
    union all
    select
        contact_id,
        'company_size_min' as attribute,
        substring(value from '\d+') as value
    from attributes
    where attribute = 'company_size'
),

typed as (
    select
        *,
        case when value ~ '^-?\d+(\.\d+)?$' then cast(value as numeric) end as number_value
    from attribute_values
    where value is not null
),

matches as (
    select
        typed.contact_id,
        rules.criterion,
        rules.rule,
        rules.points,
        rules.description
    from typed
    inner join rules on typed.attribute = rules.attribute
    where
        case rules.match_kind
            when 'equals' then lower(typed.value) = lower(rules.match_value)
            when 'in' then lower(typed.value) = any(string_to_array(lower(rules.match_value), '|'))
            when 'pattern' then typed.value ~* rules.match_value
            when 'range'
                then
                    typed.number_value is not null
                    and (rules.range_min is null or typed.number_value >= rules.range_min)
                    and (rules.range_max is null or typed.number_value <= rules.range_max)
            else false
        end
)

select distinct on (contact_id, criterion)
    contact_id,
    criterion,
    rule,
    points,
    description
from matches
order by contact_id asc, criterion asc, points desc, rule asc
