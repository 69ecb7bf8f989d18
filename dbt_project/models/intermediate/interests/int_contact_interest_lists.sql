{#- Each contact's interest codes in rank order, '|'-joined: what a transfer sends to the sales
    system. Decay leaves a contact's ranks as they are (all its weights decay by one factor), so the
    list is read from the ranks kept in int_contact_interests_weighted. A model of its own so that
    it builds as soon as the weights are ready, beside the scores, rather than at the end of the
    build inside transfer_candidates, the last model of a run (its sort of 2.6 M interest rows at
    L). Codes the taxonomy no longer lists leave the lists at once. -#}
{#- Per contact incremental (macros/contact_changes.sql): as the ranks change only where the
    weights were computed again, a run redoes the contacts whose weights int_contact_interests_weighted
    redid (interest_lists_rebuild(), macros/rebuild_sets.sql), not every contact's list (5.4 s a
    day at L, for the tenth of the contacts with new interactions). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="rebuild_set",
        unique_key="contact_id",
        on_schema_change="fail",
        pre_hook="{{ rebuild_set_pre_hook(interest_lists_rebuild()) }}",
        post_hook=[
            "{{ contact_rebuild_post_hook(
                rules=[ref('interest_taxonomy')], upstream=['fct_interactions', 'int_contact_interests_weighted']
            ) }}",
            "{{ ensure_unique_index(['contact_id']) }}",
        ],
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
-- depends_on: {{ ref('int_contact_origins_current') }}
with

weighted as (
    select * from {{ ref('int_contact_interests_weighted') }}
    where {{ in_rebuild_set('contact_id') }}
),

taxonomy as (
    select * from {{ ref('interest_taxonomy') }}
)

select
    weighted.contact_id,
    string_agg(weighted.interest, '|' order by weighted.interest_rank) as interests
from weighted
inner join taxonomy on weighted.interest = taxonomy.interest
group by weighted.contact_id
