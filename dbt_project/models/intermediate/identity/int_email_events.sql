{#- What interactions said about each email address: its last hard bounce, its last unsubscribe or
    spam complaint (a denial of consent), whether it ever unsubscribed. int_contact_addresses reads
    it for the addresses it rebuilds, instead of every interaction.

    Incremental: a run reads only the loads int_contact_changes read since this model's last build
    (its watermark, macros/contact_changes.sql) and merges them into the addresses' rows (the latest
    of each date; re-reading a load changes nothing). change_sequence says which build of the log
    the row was last written after, so int_contact_addresses finds the addresses with news. -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="email_key",
        indexes=[{"columns": ["email_key"], "unique": true}],
        post_hook=[
            "{{ record_watermark() }}",
            "{{ ensure_unique_index(['email_key']) }}",
            "{{ ensure_contract_checks() }}",
        ],
    )
}}

{%- set new_loads_only = 'true' %}
{%- if is_incremental() %}
    {%- set new_loads_only = 'load_id = any(' ~ loads_read_since_last_build() ~ ') and '
        ~ landed_since(loads_read_since_last_build_query()) %}
{%- endif %}

-- depends_on: {{ ref('int_contact_changes') }}
with

interactions as (
    select * from {{ ref('stg_feed__interactions') }}
    where
        interaction_type in ('unsubscribe', 'spam_complaint', 'hard_bounce')
        and email_key is not null
        and {{ new_loads_only }}
),

events as (
    select
        email_key,
        max(occurred_at) filter (where interaction_type = 'hard_bounce') as last_bounced_at,
        max(occurred_at) filter (where interaction_type in ('unsubscribe', 'spam_complaint'))
            as last_denied_at,
        bool_or(interaction_type = 'unsubscribe') as has_unsubscribed
    from interactions
    group by email_key
),

this_build as (
    select max(change_sequence) as change_sequence from {{ ref('int_contact_changes') }}
)

{% if is_incremental() %}

    select
        events.email_key,
        greatest(events.last_bounced_at, previous.last_bounced_at) as last_bounced_at,
        greatest(events.last_denied_at, previous.last_denied_at) as last_denied_at,
        events.has_unsubscribed or coalesce(previous.has_unsubscribed, false) as has_unsubscribed,
        this_build.change_sequence
    from events
    cross join this_build
    left join {{ this }} as previous on events.email_key = previous.email_key

{% else %}

    select
        events.*,
        this_build.change_sequence
    from events
    cross join this_build

{% endif %}
