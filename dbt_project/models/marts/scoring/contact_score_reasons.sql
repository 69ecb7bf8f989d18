{#- Why each score is what it is: every rule's contribution to every golden contact, as of the
    run's logical date — profile tiers, engagement per interaction type (after caps and decay, to
    this date from the one its points were computed as of) and negative points. contact_scores
    adds up exactly these rows (both take them from macro score_reason_rows()). -#}
{#- A view, computed when read: the engagement points' decay is all that changes for most contacts
    from one day to the next, and as a table it rewrote all 6.3 M rows at L every day (26 s, 1.2 GB
    written). The run's date is part of the view's text, rebuilt every run. It filters its rows for
    the reader itself (macros/bi_access.sql), as BI roles read no intermediate table. Looked up per
    contact (leadflow explain, the transfer monitor, BI drill-downs) through the intermediate
    tables' indexes on contact_id. Each has one row per contact and rule, and rule names are unique
    across the three rule seeds (tests/singular/scoring_seeds_are_consistent.sql), so (contact_id,
    rule) is its key. -#}
{{
    config(
        materialized="view",
        post_hook="{{ self_filtering_view() }}",
    )
}}

with

contacts as (
    select * from {{ ref('dim_contacts') }}
    where first_seen_at <= {{ as_of() }}
),

reasons as not materialized (
    {{ score_reason_rows() }}
),

scored as not materialized (
    select
        reasons.contact_id,
        reasons.component,
        reasons.rule_kind,
        reasons.rule,
        reasons.points,
        reasons.interactions,
        reasons.description,
        {{ as_of() }} as scored_at
    from reasons
    inner join contacts on reasons.contact_id = contacts.contact_id
)

{{ rows_the_reader_sees('scored', ref('dim_contacts')) }}
