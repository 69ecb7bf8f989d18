{#- What happened to contact ids, run by run: created, merged (the id was retired into an older
    contact, whose id survives) and split (some origins left the contact for another one; the
    largest part keeps the id). Downstream systems holding a retired id look up its successor here. -#}
{#- Incremental (append): a run's events come from that run's ledger rows alone, and the ledger
    only appends, so a build adds the events of the ledger runs after the newest one here. A run
    that appended only origins of existing contacts has no events: it is read again next time and
    gives none again. -#}
{#- looked up per contact: leadflow explain, the transfer monitor, BI drill-downs -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="append",
        on_schema_change="fail",
        indexes=[{'columns': ['contact_id']}, {'columns': ['other_contact_id']}],
        post_hook="{{ ensure_contract_checks() }}",
    )
}}
with

ledger as (
    select * from {{ ref('int_contact_id_ledger') }}
    {%- if is_incremental() %}
        where run_sequence > (select coalesce(max(history.run_sequence), 0) from {{ this }} as history)
    {%- endif %}
),

created as (
    select distinct on (contact_id)
        contact_id,
        'created' as event,
        cast(null as text) as other_contact_id,
        run_sequence,
        changed_at
    from ledger
    {%- if is_incremental() %}
        -- a contact id is created once: its first ledger run
        where not exists (
            select from {{ this }} as history
            where history.contact_id = ledger.contact_id and history.event = 'created'
        )
    {%- endif %}
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
