-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- The contacts a per-contact model's incremental build redoes (macros/contact_changes.sql), or
    the opportunities campaign_attribution redoes (macros/opportunity_changes.sql), as a
    temporary table its pre-hook fills and analyzes. Why not a CTE: the planner knows neither a
    CTE's size nor its distinct values (it guessed 200 contacts, or all of them with the branch
    for a changed seed), and with such guesses it joins the few rebuilt contacts to whole tables
    by scanning them; with the table's real size it looks the few up by index. -#}

{% macro rebuild_set() -%}
    pg_temp.{{ this.name }}__rebuild
{%- endmacro %}

{#- pre-hook: `query` (its columns: `key`, contact_id by default) into the table, on an
    incremental build, where the incremental strategy rebuild_set deletes by it
    (macros/contact_changes.sql); a first or full build takes every row and reads no table: the
    table is empty then, for hooks that read it -#}
{% macro rebuild_set_pre_hook(query, key=['contact_id']) -%}
    {%- if is_incremental() %}
        create temporary table {{ rebuild_set() }} on commit drop as
        select distinct q.{{ key | join(', q.') }} from ({{ query }}) as q
        where q.{{ key | join(' is not null and q.') }} is not null;
        {#- (indexed: a plan that expects one row of a table whose statistics are stale, e.g. the
            log right after a full build, probes the set once per row; a scan of 21.7 k contacts
            for each of 98 k logged rows took 86 s of dim_contacts' update at L) #}
        create index on {{ rebuild_set() }} ({{ key | join(', ') }});
        analyze {{ rebuild_set() }};
    {%- else %}
        create temporary table {{ rebuild_set() }} ({{ key | join(' text, ') }} text) on commit drop;
    {%- endif %}
{%- endmacro %}

{#- the filter of a build's rows: every row on a first or full build, else the rebuild set's
    (`column`: the rows' contact_id, or a row of the key's columns, e.g. "(a.x, a.y)") -#}
{% macro in_rebuild_set(column, key=['contact_id']) -%}
    {%- if is_incremental() -%}
        {{ column }} in (select rebuilt.{{ key | join(', rebuilt.') }} from {{ rebuild_set() }} as rebuilt)
    {%- else -%}
        {{ column }} is not null
    {%- endif -%}
{%- endmacro %}

{#- A windowed model's interactions (engagement_window(), interests_window()): those its filter
    counts, dated within its lookback up to the logical date, with contact_id and `columns`. On an
    incremental build only the rebuilt contacts', looked up per contact by fct_interactions' index
    (contact_id, occurred_at) and coming out in contact order. Why lookups: the planner hashes all
    interactions (11 M at L) against the rebuild set (about 125 k contacts on a day at L) even where
    their 1.9 M rows cost a third less by index; `offset 0` keeps each one a lookup. Why contact
    order: ordered by the rebuild set's contact_id (which the planner sees), a window or aggregate
    per contact sorts each contact's few rows in memory (incremental sort) instead of every row on
    disk. A first or full build reads them all. Golden contacts' only (is_golden_contact()): an
    anonymous visitor's rows are deleted as its contact is redone (the window's settings name
    this, so the first build that filters redoes every contact). `contacts`: another set than the
    rebuild set. -#}
{% macro window_interactions(window, columns, contacts=none) -%}
    {%- set counted -%}
        {{ window["interactions_filter"] }}
        and interactions.occurred_at <= {{ as_of() }}
        and interactions.occurred_at > {{ as_of() }} - interval '{{ window["lookback_days"] }} days'
    {%- endset -%}
    {%- if is_incremental() %}
    select
        rebuilt.contact_id,
        interactions.{{ columns | join(',\n        interactions.') }}
    from (
        select r.contact_id from {{ contacts or rebuild_set() }} as r
        where {{ is_golden_contact('r.contact_id') }}
        order by r.contact_id
    ) as rebuilt
    cross join lateral (
        select interactions.{{ columns | join(', interactions.') }}
        from {{ ref('fct_interactions') }} as interactions
        where
            interactions.contact_id = rebuilt.contact_id
            and {{ counted }}
        offset 0  -- noqa: AM09
    ) as interactions
    {%- else %}
    select
        interactions.contact_id,
        interactions.{{ columns | join(',\n        interactions.') }}
    from {{ ref('fct_interactions') }} as interactions
    where
        interactions.contact_id is not null
        and {{ counted }}
        and {{ is_golden_contact('interactions.contact_id') }}
    {%- endif %}
{%- endmacro %}

{#- contact_origins: the logged contacts (by the log and by addresses and survivorship), every
    contact when an identity seed changed, and the holders of a blocked key that a logged contact
    holds (a key blocked since no longer names the match; a key unblocked links its holders,
    which the ledger logs). From the blocked keys (a few hundred) to their holders by the key
    values' index, not from every key of the logged contacts. -#}
{% macro contact_origins_rebuild() -%}
    {%- set upstream = ['int_contact_addresses', 'int_contact_attributes_survived'] -%}
    with blocked_holders as (
        select
            key_values.key_type,
            key_values.key_value,
            holders.contact_id
        from {{ ref('int_identity_keys_blocked') }} as blocked
        inner join {{ ref('int_identity_key_values') }} as key_values
            on blocked.key_type = key_values.key_type and blocked.key_value = key_values.key_value
        inner join {{ ref('int_contact_origins_current') }} as holders
            on key_values.origin_key = holders.origin_key
    )

    {#- (without the visits, whose two times contact_origins_visits_update() sets, and the
        contacts whose addresses were only restated: it shows none of what moved) #}
    {{ contacts_to_rebuild(upstream=upstream, restated=false) }}

    union all

    select current_contacts.contact_id
    from {{ ref('int_contact_origins_current') }} as current_contacts
    where {{ everything_changed(rules=[ref('identity_key_rules'), ref('identity_blocked_keys')]) }}

    union all

    select blocked_holders.contact_id
    from blocked_holders
    -- (the logged holders' distinct values first: a semi join of the holders on the logged ones
    -- compared each logged holder with every holder of a widely shared value, 1.3-2.1 s a day at
    -- L; this way 0.2 s)
    where (blocked_holders.key_type, blocked_holders.key_value) in (
        select distinct
            logged_holders.key_type,
            logged_holders.key_value
        from blocked_holders as logged_holders
        where logged_holders.contact_id in ({{ contacts_to_rebuild(upstream=upstream, restated=false) }})
    )
{%- endmacro %}

{#- the contacts logged since this model's last build (by the log and by the models named in
    `upstream`), or every contact when it has no watermark or the seeds `rules` and vars
    `settings` it applies changed -#}
{% macro logged_contacts_rebuild(upstream, restated=true, rules=[], settings=none) -%}
    {{ contacts_to_rebuild(upstream=upstream, restated=restated) }}

    union all

    select current_contacts.contact_id
    from {{ ref('int_contact_origins_current') }} as current_contacts
    where {{ everything_changed(rules=rules, settings=settings) }}
{%- endmacro %}

{#- dim_contacts: the logged contacts (by the log, addresses, survivorship and the accounts: an
    account depends on the other contacts of the email domain, and int_contact_accounts logs the
    contacts it redid for that), every contact when it has no watermark. The contacts
    fct_interactions alone logged are not rebuilt but updated (dim_contacts_interactions_update()).
    (Before the accounts were per contact, every contact's account was compared with the stored
    one each run.) -#}
{% macro dim_contacts_rebuild() -%}
    {{ logged_contacts_rebuild(
        upstream=['int_contact_addresses', 'int_contact_attributes_survived', 'int_contact_accounts'], restated=false
    ) }}
{%- endmacro %}

{#- dim_contacts' post-hook, before its watermark moves: the contacts whose only news is
    interactions (logged by fct_interactions alone, not in the rebuild set) get their
    last_interaction_at again (their last inbound interaction: an index lookup) and, where it may
    have moved, their first_seen_at (their first origin and first interaction, as the model
    computes it) — nothing else of theirs changed. first_seen_at cannot move when every interaction
    that came, changed or left is dated after it: the log's changed_from, the earliest time among
    them, is later. Rebuilding their whole rows, 99 k of the 127 k contacts a day at L redid their
    best values, addresses and account for nothing. Rows whose values stand are not written.
    Incremental builds only: a first or full build computed every row from the current data. There
    the update also redid every contact the log names since the last watermark, in a new table
    without its index on contact_id (ensure_unique_index comes after): 180 s of every other
    --full-refresh at 10 k contacts, as the new table's statistics led the plan. (is_incremental()
    is false in a first build's post-hooks since dbt caches the relations at start-up, its default.) -#}
{% macro dim_contacts_interactions_update() -%}
    {%- if is_incremental() %}
    update {{ this }} as contacts
    set
        first_seen_at = coalesce(recomputed.first_seen_at, touched.first_seen_at),
        last_interaction_at = interactions_last.last_interaction_at
    from (
        select
            logged.contact_id,
            stored.first_seen_at,
            logged.changed_from is null or logged.changed_from <= stored.first_seen_at as may_move_first
        from (
            select
                changes.contact_id,
                -- any time, unless every change names one
                case when not bool_or(changes.changed_from is null) then min(changes.changed_from) end
                    as changed_from
            from {{ ref('int_contact_changes') }} as changes
            where {{ logged_outside_rebuild_set('fct_interactions') }}
            group by changes.contact_id
        ) as logged
        inner join {{ this }} as stored on logged.contact_id = stored.contact_id
    ) as touched
    left join
        lateral (
            select
                least(
                    (
                        select min(origins.first_seen_at)
                        from {{ ref('int_contact_origins_current') }} as current_contacts
                        inner join {{ ref('int_identity_origins') }} as origins
                            on current_contacts.origin_key = origins.origin_key
                        where current_contacts.contact_id = touched.contact_id
                    ),
                    {{ first_interaction_at('touched.contact_id') }}
                ) as first_seen_at
            where touched.may_move_first
            -- (kept a subquery: pulled up, its lookups ran for every contact, 3.1 s → 1.4 s at L)
            offset 0  -- noqa: AM09
        ) as recomputed
        on true
    cross join
        lateral (
            select {{ last_inbound_interaction_at('touched.contact_id') }} as last_interaction_at
            -- (kept a subquery: pulled up, the lookup ran twice, for the set and for the filter)
            offset 0  -- noqa: AM09
        ) as interactions_last
    where
        contacts.contact_id = touched.contact_id
        and (
            contacts.first_seen_at is distinct from coalesce(recomputed.first_seen_at, touched.first_seen_at)
            or contacts.last_interaction_at is distinct from interactions_last.last_interaction_at
        )
    {%- endif %}
{%- endmacro %}

{#- int_contact_addresses: the logged contacts, every holder of an address that one of them holds
    or held before, that has new unsubscribes, spam complaints or bounces, or that was blocked or
    unblocked as a shared key; the contacts logged as 'seen' (a cookie holding an email came back:
    its address's last_seen_at moved, in that contact's rows only, as a cookie states no
    consent); every contact when source_priorities changed -#}
{% macro contact_addresses_rebuild() -%}
    {%- set origins = ref('int_identity_origins') -%}
    {%- set current_contacts = ref('int_contact_origins_current') -%}
    with logged as (
        {{ contacts_to_rebuild() }}
    ),

    changed_addresses as (
        -- held by a logged contact before
        select
            previous.channel,
            previous.address_key
        from {{ this }} as previous
        where previous.contact_id in (select logged.contact_id from logged)

        union

        -- held by a logged contact now
        select
            a.channel,
            a.address_key
        from {{ current_contacts }} as current_contacts
        inner join {{ origins }} as origins on current_contacts.origin_key = origins.origin_key
        cross join
            lateral (values ('email', origins.email_key), ('phone', origins.phone))
                as a (channel, address_key)
        where
            current_contacts.contact_id in (select logged.contact_id from logged)
            and a.address_key is not null

        union

        -- new unsubscribes, spam complaints, bounces
        select
            'email' as channel,
            email_events.email_key as address_key
        from {{ ref('int_email_events') }} as email_events
        where email_events.change_sequence > {{ consumed_sequence() }}

        union

        -- blocked or unblocked since
        select
            previous.channel,
            previous.address_key
        from {{ this }} as previous
        left join {{ ref('int_identity_keys_blocked') }} as blocked
            on previous.channel = blocked.key_type and previous.address_key = blocked.key_value
        where previous.is_shared is distinct from (blocked.key_value is not null)
    )

    select logged.contact_id from logged

    union all

    -- every holder of a changed address, looked up by the key values' index (an origin's email key
    -- and phone are its 'email' and 'phone' keys). (A join scanned the 2.4 M origins for their
    -- unindexed emails and phones, or hashed the 3.8 M key values: 1.1-1.4 s a day at L.)
    select current_contacts.contact_id
    from changed_addresses
    cross join lateral (
        select key_values.origin_key
        from {{ ref('int_identity_key_values') }} as key_values
        where key_values.key_type = changed_addresses.channel and key_values.key_value = changed_addresses.address_key
        offset 0  -- noqa: AM09
    ) as holders
    inner join {{ current_contacts }} as current_contacts on holders.origin_key = current_contacts.origin_key

    union all

    select changes.contact_id
    from {{ ref('int_contact_changes') }} as changes
    where {{ logged_since_last_build('int_contact_changes', reasons=['seen']) }}

    union all

    select current_contacts.contact_id
    from {{ current_contacts }} as current_contacts
    where {{ everything_changed(rules=[ref('source_priorities')]) }}
{%- endmacro %}

{#- The windowed per-contact models, each defined once: the seeds and vars it applies (a change
    rebuilds every contact: `rules`, `settings`), its lookback and which interactions it counts. The
    pre-hooks (macros/window_sums.sql) and the post-hook's watermark both read it
    (window_rebuild_post_hook()). -#}

{#- int_contact_engagement_points: the year's inbound interactions -#}
{#- (its calendar cap periods count from this Monday: engagement_sums.sql) -#}
{% macro cap_periods_from() -%}
    {{ return("2001-01-01") }}
{%- endmacro %}

{% macro engagement_window() -%}
    {%- set settings = {
        "engagement_lookback_days": var("scoring")["engagement_lookback_days"],
        "cap_periods_from": cap_periods_from(),
        "contacts": "golden",
        "sums": "forward from " ~ engagement_landmark(),
    } -%}
    {{ return({
        "rules": [ref('score_engagement_rules')],
        "settings": settings,
        "lookback_days": settings["engagement_lookback_days"],
        "interactions_filter": "interactions.direction = 'inbound'",
    }) }}
{%- endmacro %}

{#- int_contact_interests_weighted: the six months' interactions showing interests -#}
{% macro interests_window() -%}
    {%- set settings = {
        "lookback_days": var("interests")["lookback_days"],
        "half_life_days": var("interests")["half_life_days"],
        "contacts": "golden",
        "sums": "forward from " ~ interests_landmark(),
    } -%}
    {{ return({
        "rules": [ref('interest_taxonomy')],
        "settings": settings,
        "lookback_days": settings["lookback_days"],
        "interactions_filter": "interactions.interests is not null",
    }) }}
{%- endmacro %}

{#- the post-hook of a windowed model: its watermark holds the hash of the window's rules and
    settings; `log_own_for`: the per-contact models downstream that need the contacts it redid for
    reasons of its own (interactions that came into or left the window, a changed rule) -#}
{% macro window_rebuild_post_hook(window, log_own_for=[]) -%}
    {{ contact_rebuild_post_hook(
        rules=window["rules"], upstream=['fct_interactions'], log_own_for=log_own_for, settings=window["settings"]
    ) }}
{%- endmacro %}

{#- int_contact_interest_lists: the contacts whose weights int_contact_interests_weighted redid
    (those logged by the log and fct_interactions, and those it logged for reasons of its own), or
    every contact when the taxonomy changed or the model has no watermark -#}
{% macro interest_lists_rebuild() -%}
    {{ logged_contacts_rebuild(
        upstream=['fct_interactions', 'int_contact_interests_weighted'], rules=[ref('interest_taxonomy')]
    ) }}
{%- endmacro %}
