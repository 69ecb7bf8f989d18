{#- Key values that must not link origins, with the reason — reported, not silently dropped:
    - listed: matches a pattern in the seed identity_blocked_keys (info@…, noreply@…, freephone);
    - shared: held by origins with at least vars.identity.block_min_names different names (a
      switchboard number, a team mailbox nobody listed), so no giant cluster of strangers forms;
    - conflicting: it would join origins holding different values of a one-per-contact key
      (two CRM ids are two people).

    Incremental (macros/identity_changes.sql): whether a value is blocked depends only on the
    origins holding it, so a build redoes the values logged since its watermark (held before or
    now by an origin that changed), and its post-hook deletes those no longer blocked. -#}
-- (read on incremental builds only: macros/identity_changes.sql)
-- depends_on: {{ ref('int_identity_key_values') }}
{%- set everything = identity_builds_everything() %}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["key_type", "key_value"],
        on_schema_change="fail",
        pre_hook="{{ identity_scope_pre_hook(scopes=['changed_keys']) }}",
        post_hook="{{ identity_post_hook(
            '(key_type, key_value) in (select key_type, key_value from ' ~ identity_scope('changed_keys') ~ ')'
        ) }}",
    )
}}
with

{%- if everything %}

    -- not materialized: PostgreSQL materialises a CTE named more than once, and a plan reading a
    -- materialised CTE runs in one process (and guesses its sizes)
    all_keys as not materialized (
        select * from {{ ref('int_identity_keys') }}
        where links_origins
    ),

    keys as not materialized (
        select * from all_keys
    ),

{%- else %}

    -- an incremental build: the few holders of the logged values, and their other keys, read once
    -- from the key values table by index (int_identity_keys' links_origins applied here)
    keys as materialized (
        select
            holders.node_id,
            holders.origin_key,
            holders.name_key,
            holders.key_type,
            holders.key_value,
            rules.one_per_contact
        from {{ identity_scope('changed_keys') }} as changed
        inner join {{ ref('int_identity_key_values') }} as holders
            on changed.key_type = holders.key_type and changed.key_value = holders.key_value
        inner join {{ ref('identity_key_rules') }} as rules
            on holders.key_type = rules.key_type and rules.identifies_person and not rules.is_shareable
    ),

    all_keys as materialized (
        select
            held.node_id,
            held.key_type,
            held.key_value,
            rules.one_per_contact
        from (select distinct keys.node_id from keys) as holders
        inner join {{ ref('int_identity_key_values') }} as held on holders.node_id = held.node_id
        inner join {{ ref('identity_key_rules') }} as rules
            on held.key_type = rules.key_type and rules.identifies_person and not rules.is_shareable
    ),

{%- endif %}

blocked_patterns as (
    select * from {{ ref('identity_blocked_keys') }}
),

listed as (
    select distinct
        keys.key_type,
        keys.key_value,
        'listed' as block_rule,
        blocked_patterns.reason
    from keys
    inner join blocked_patterns
        on keys.key_type = blocked_patterns.key_type and keys.key_value like blocked_patterns.pattern
),

busy_keys as (
    -- keys held by enough origins to be held by enough names (a hashed count: the distinct count
    -- below then sorts thousands of rows, not every key)
    select
        key_type,
        key_value
    from keys
    group by key_type, key_value
    having count(*) >= {{ var("identity")["block_min_names"] }}
),

candidates as (
    -- keys held by enough named origins to be held by that many people at all
    select
        keys.key_type,
        keys.key_value
    from keys
    inner join busy_keys on keys.key_type = busy_keys.key_type and keys.key_value = busy_keys.key_value
    group by keys.key_type, keys.key_value
    having count(distinct keys.name_key) >= {{ var("identity")["block_min_names"] }}
),

signed_keys as (
    -- different people, not one person's spellings: names compared by the letters of the last
    -- word (a swapped-letters typo, a missing first name and a shouted name count as one name)
    select
        keys.key_type,
        keys.key_value,
        keys.origin_key,
        {{ letters_of_last_word("keys.name_key") }} as name_signature
    from keys
    inner join candidates on keys.key_type = candidates.key_type and keys.key_value = candidates.key_value
),

shared as (
    select
        key_type,
        key_value,
        'shared' as block_rule,
        'held by ' || count(distinct origin_key) || ' origins with '
        || count(distinct name_signature) || ' different names' as reason
    from signed_keys
    group by key_type, key_value
    having count(distinct name_signature) >= {{ var("identity")["block_min_names"] }}
),

conflicting as (
    select
        keys.key_type,
        keys.key_value,
        'conflicting' as block_rule,
        'joins '
        || count(distinct single.key_value)
        || ' different '
        || single.key_type
        || ' values' as reason
    from keys
    inner join all_keys as single
        on keys.node_id = single.node_id and single.one_per_contact and keys.key_type <> single.key_type
    group by keys.key_type, keys.key_value, single.key_type
    having count(distinct single.key_value) > 1
),

blocked as (
    select * from listed
    union all
    select * from shared
    union all
    select * from conflicting
),

key_counts as (
    -- of the blocked keys only
    select
        keys.key_type,
        keys.key_value,
        count(distinct keys.origin_key) as origins
    from keys
    where
        exists (
            select from blocked
            where blocked.key_type = keys.key_type and blocked.key_value = keys.key_value
        )
    group by keys.key_type, keys.key_value
)

select distinct on (blocked.key_type, blocked.key_value)
    blocked.key_type,
    blocked.key_value,
    blocked.block_rule,
    blocked.reason,
    key_counts.origins as number_of_origins
from blocked
inner join key_counts on blocked.key_type = key_counts.key_type and blocked.key_value = key_counts.key_value
order by blocked.key_type asc, blocked.key_value asc, blocked.block_rule desc
