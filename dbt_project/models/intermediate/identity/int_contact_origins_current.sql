{#- The current contact of every origin: the latest row per origin of the id ledger. -#}
with

ledger as (
    select * from {{ ref('int_contact_id_ledger') }}
)

select distinct on (origin_key)
    origin_key,
    contact_id,
    change as last_change,
    changed_at as contact_since
from ledger
order by origin_key asc, run_sequence desc
