{#- The current contact of every origin: the latest row per origin of the id ledger.
    Incremental (delete+insert on origin_key): the ledger only appends, and an origin's row changes
    only when a ledger run appends one for it, so a build reads the ledger runs after the newest
    one here. (A table from before run_sequence gets the column and the indexes by the hooks, and
    its first build reads the whole ledger.) -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="origin_key",
        on_schema_change="fail",
        pre_hook="{% if is_incremental() %}alter table {{ this }} add column if not exists run_sequence integer{% endif %}",
        post_hook=[
            "{{ ensure_index('origin', '(origin_key)', unique=true) }}",
            "{{ ensure_index('run', '(run_sequence)') }}",
            "{{ ensure_index('contact', '(contact_id)') }}",
        ],
    )
}}
with

ledger as (
    select * from {{ ref('int_contact_id_ledger') }}
    {%- if is_incremental() %}
        where run_sequence > (select coalesce(max(this.run_sequence), 0) from {{ this }} as this)
    {%- endif %}
)

select distinct on (origin_key)
    origin_key,
    contact_id,
    change as last_change,
    changed_at as contact_since,
    run_sequence
from ledger
order by origin_key asc, run_sequence desc
