{#- What happened to contact ids, run by run: created, merged (the id was retired into an older
    contact, whose id survives) and split (some origins left the contact for another one; the
    largest part keeps the id). Downstream systems holding a retired id look up its successor here. -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{ config(indexes=[{'columns': ['contact_id']}, {'columns': ['other_contact_id']}]) }}
with

ledger as (
    select * from {{ ref('int_contact_id_ledger') }}
),

created as (
    select distinct on (contact_id)
        contact_id,
        'created' as event,
        cast(null as text) as other_contact_id,
        run_sequence,
        changed_at
    from ledger
    order by contact_id asc, run_sequence asc
),

created_origins as (
    select
        created.contact_id,
        count(*) as origins
    from created
    inner join ledger
        on created.contact_id = ledger.contact_id and created.run_sequence = ledger.run_sequence
    group by created.contact_id
),

moves as (
    select
        previous_contact_id as contact_id,
        case change when 'merged' then 'merged_into' else 'split_to' end as event,
        contact_id as other_contact_id,
        run_sequence,
        changed_at,
        count(*) as origins
    from ledger
    where change in ('merged', 'split')
    group by previous_contact_id, change, contact_id, run_sequence, changed_at
)

select
    created.contact_id,
    created.event,
    created.other_contact_id,
    cast(created_origins.origins as integer) as origins_moved,
    created.run_sequence,
    created.changed_at
from created
inner join created_origins on created.contact_id = created_origins.contact_id

union all

select
    contact_id,
    event,
    other_contact_id,
    cast(origins as integer) as origins_moved,
    run_sequence,
    changed_at
from moves
