{#- Every stage change of every contact: a run appends a row for each contact whose stage as of
    its logical date differs from the contact's latest earlier row (a contact's first row has no
    previous stage). Rerunning a day replaces that day's rows; never rebuilt from scratch
    (full_refresh=false), because past stages cannot be recomputed from today's data. -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="append",
        full_refresh=false,
        on_schema_change="append_new_columns",
        meta={"analyzes_itself": true},
        pre_hook="{% if is_incremental() %}delete from {{ this }} where entered_at = {{ as_of() }}{% endif %}",
        post_hook=[
            "{{ ensure_unique_index(['contact_id', 'entered_at']) }}",
            "drop index if exists {{ this.schema }}.{{ this.name }}__contact",
            "{{ ensure_index('entered_at', '(entered_at)') }}",
            "{{ record_stage_history_build() }}",
            "analyze {{ this }}",
        ],
    )
}}

with

current_stages as (
    select * from {{ ref('int_contact_stages_current') }}
),

previous as (
    {%- if is_incremental() %}
        select distinct on (contact_id)
            contact_id,
            stage,
            stage_order
        from {{ this }}
        where entered_at < {{ as_of() }}
        order by contact_id asc, entered_at desc
    {%- else %}
        select
            cast(null as text) as contact_id,
            cast(null as text) as stage,
            cast(null as integer) as stage_order
        where false
    {%- endif %}
)

select
    current_stages.contact_id,
    current_stages.stage,
    current_stages.stage_order,
    previous.stage as previous_stage,
    case
        when previous.stage is null then 'entered'
        when current_stages.stage_order > previous.stage_order then 'up'
        else 'down'
    end as direction,
    {{ as_of() }} as entered_at
from current_stages
left join previous on current_stages.contact_id = previous.contact_id
where previous.stage is distinct from current_stages.stage
