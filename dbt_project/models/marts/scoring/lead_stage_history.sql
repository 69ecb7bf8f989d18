{#- Every stage change of every contact: a run appends a row for each contact whose stage as of
    its logical date differs from the contact's latest earlier row (a contact's first row has no
    previous stage). Rerunning a day replaces that day's rows; never rebuilt from scratch
    (full_refresh=false), because past stages cannot be recomputed from today's data.
    A contact's latest earlier stage comes, on an ordinary day, from the last lead_stages (which
    holds it for every contact staged then; the others' from their rows, by contact), not from
    all of this table's rows (macros/stage_builds.sql). Up and down are in the order of the
    current stage definitions (a stage no longer defined: in its order when it was entered). -#}
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
            "{{ ensure_contract_checks() }}",
            "drop index if exists {{ this.schema }}.{{ this.name }}__contact",
            "{{ ensure_index('entered_at', '(entered_at)') }}",
            "{{ record_stage_history_build() }}",
            "{{ analyze_if_written() }}",
        ],
    )
}}

{%- set keep_last_stages = lead_stage_history_keeps_last_stages() %}

with

current_stages as (
    select * from {{ ref('int_contact_stages_current') }}
),

stage_orders as (
    select
        stage,
        stage_order
    from {{ ref('lead_stage_definitions') }}
),

{%- if keep_last_stages %}

    -- each contact's stage in the last lead_stages (its latest row), else (staged now but not then:
    -- new, or back) its latest earlier row, looked up by contact
    with_previous as (
        select
            current_stages.contact_id,
            current_stages.stage,
            current_stages.stage_order,
            coalesce(last_stages.stage, unstaged_then.stage) as previous_stage,
            coalesce(last_stages.stage_order, unstaged_then.stage_order) as previous_order
        from current_stages
        left join {{ lead_stages_relation() }} as last_stages
            on current_stages.contact_id = last_stages.contact_id
        left join lateral (
            select
                history.stage,
                history.stage_order
            from {{ this }} as history
            where
                history.contact_id = current_stages.contact_id
                and history.entered_at < {{ as_of() }}
                and last_stages.contact_id is null
            order by history.entered_at desc
            limit 1
        ) as unstaged_then on true
    ),

{%- else %}

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
    ),

    with_previous as (
        select
            current_stages.contact_id,
            current_stages.stage,
            current_stages.stage_order,
            previous.stage as previous_stage,
            previous.stage_order as previous_order
        from current_stages
        left join previous on current_stages.contact_id = previous.contact_id
    ),

{%- endif %}

changed as (
    select * from with_previous
    where previous_stage is distinct from stage
)

select
    changed.contact_id,
    changed.stage,
    changed.stage_order,
    changed.previous_stage,
    case
        when changed.previous_stage is null then 'entered'
        when changed.stage_order > coalesce(stage_orders.stage_order, changed.previous_order) then 'up'
        else 'down'
    end as direction,
    {{ as_of() }} as entered_at
from changed
left join stage_orders on changed.previous_stage = stage_orders.stage
