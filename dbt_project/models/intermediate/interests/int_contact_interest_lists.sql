{#- Each contact's interest codes in rank order, '|'-joined: what a transfer sends to the sales
    system. Decay leaves a contact's ranks as they are (all its weights decay by one factor), so the
    list is read from the ranks kept in int_contact_interests_weighted. A model of its own so that
    it builds as soon as the weights are ready, beside the scores, rather than at the end of the
    build inside transfer_candidates, the last model of a run (its sort of 2.6 M interest rows at
    L). Codes the taxonomy no longer lists leave the lists at once. -#}
{{
    config(
        indexes=[{"columns": ["contact_id"], "unique": true}],
    )
}}

with

weighted as (
    select * from {{ ref('int_contact_interests_weighted') }}
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
