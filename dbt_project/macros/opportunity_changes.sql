-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- Per-opportunity incremental attribution: campaign_attribution redoes, on an incremental run,
    only the opportunities whose credits may have changed, in its rebuild set
    (macros/rebuild_sets.sql, keyed by source_system and opportunity_id):
    - those int_opportunity_contacts wrote since (a new opportunity or version, a contact gained or
      lost: a merge, a CRM id's new owner, a contact that moved account), by its link_build;
    - those of the contacts whose interactions changed since, if they were created after the
      change (logged in int_contact_changes: fct_interactions logs the contacts of the interactions
      it wrote with the earliest time among them, changed_from; an interaction is a touch only of
      opportunities created after it, so a day's new interactions redo none of the older ones),
      and those of the contacts the id ledger moved (the log's own rows; its rows for a contact
      record landed again do not count: that changes neither interactions nor links);
    - those created between the last build's logical date and this one's (they enter the run's
      date, or leave it in a backfill of an earlier day);
    - every one when it has no watermark or vars.attribution changed.
    Its two watermarks: the contact log's sequence and the run's date in contact_change_watermarks,
    the link build in identity_watermarks. -#}

{#- the numbers of int_opportunity_contacts' builds (its rows' link_build) -#}
{% macro opportunity_link_builds_sequence() -%}
    {{ generate_schema_name('intermediate', none) }}.opportunity_link_builds
{%- endmacro %}

{#- on-run-start -#}
{% macro create_opportunity_link_builds_sequence() -%}
    create schema if not exists {{ generate_schema_name('intermediate', none) }};
    create sequence if not exists {{ opportunity_link_builds_sequence() }}
{%- endmacro %}

{#- The contacts of the opportunities of the CTE `opportunities` (source_system,
    opportunity_id, crm_id, account_key): the contact owning the CRM id it names, else every
    contact of its account. Reads the CTEs crm_contacts and contact_accounts. -#}
{% macro opportunity_links(opportunities) -%}
    select
        {{ opportunities }}.source_system,
        {{ opportunities }}.opportunity_id,
        crm_contacts.contact_id
    from {{ opportunities }}
    inner join crm_contacts on {{ opportunities }}.crm_id = crm_contacts.crm_id
    union all
    select
        {{ opportunities }}.source_system,
        {{ opportunities }}.opportunity_id,
        contact_accounts.contact_id
    from {{ opportunities }}
    inner join contact_accounts on 'company:' || {{ opportunities }}.account_key = contact_accounts.account_key
    where
        {{ opportunities }}.crm_id is null
        -- not exists, not "not in": a not-in list larger than work_mem is searched once per row
        or not exists (
            select from crm_contacts
            where crm_contacts.crm_id = {{ opportunities }}.crm_id
        )
{%- endmacro %}

{% macro attribution_key() -%}
    {{ return(['source_system', 'opportunity_id']) }}
{%- endmacro %}

{#- The opportunities campaign_attribution redoes (see above); its previous logical date from its
    watermark -#}
{% macro attribution_rebuild() -%}
    {%- set links = ref('int_opportunity_contacts') -%}
    {%- set previous_as_of -%}
        (select w.as_of from {{ contact_change_watermarks() }} as w where w.model = '{{ this.name }}')
    {%- endset -%}
    -- one scan of the links, every reason but the contacts' a condition
    select links.source_system, links.opportunity_id
    from {{ links }} as links
    where
        links.link_build > {{ identity_consumed_build() }}
        or (
            links.created_at > least({{ previous_as_of }}, {{ as_of() }})
            and links.created_at <= greatest({{ previous_as_of }}, {{ as_of() }})
        )
        or {{ everything_changed(settings=var('attribution')) }}
        or {{ previous_as_of }} is null
    union all
    -- the logged contacts' opportunities created since their change (a join: a correlated
    -- condition under "or" would be checked once per link)
    select links.source_system, links.opportunity_id
    from {{ links }} as links
    inner join (
        select
            changes.contact_id,
            -- any time, unless only interactions from some time on changed
            case
                when not bool_or(changes.changed_from is null) then min(changes.changed_from)
            end as changed_from
        from {{ ref('int_contact_changes') }} as changes
        where
            changes.change_sequence > {{ consumed_sequence() }}
            and changes.contact_id is not null
            and (
                (changes.logged_by = 'int_contact_changes' and changes.reason not in ('landed', 'seen', 'visited'))
                or changes.logged_by = 'fct_interactions'
            )
        group by changes.contact_id
    ) as changed
        on links.contact_id = changed.contact_id
    where changed.changed_from is null or changed.changed_from <= links.created_at
{%- endmacro %}

{#- pre-hook: the rebuild set; a first or full build joins every opportunity's contacts to their
    interactions, which the planner does best without nested loops (it sizes the contacts of
    account-level opportunities low and would probe the interactions' index once per contact) -#}
{% macro attribution_pre_hook() -%}
    {{ rebuild_set_pre_hook(attribution_rebuild(), key=attribution_key()) }}
    {%- if not is_incremental() %};
        set local enable_nestloop = off
    {%- endif %}
{%- endmacro %}

{#- post-hook: delete the rows of redone opportunities it wrote none for (no touches now, created
    after the run's date), date the kept rows as of this run (their credits hold as of it: nothing
    they depend on changed; an update of one column, seconds at 1 M contacts), then move both
    watermarks -#}
{% macro attribution_post_hook() -%}
    delete from {{ this }}
    where
        not ({{ written_here() }})
        and {{ in_rebuild_set('(source_system, opportunity_id)', key=attribution_key()) }};
    update {{ this }} set attributed_at = {{ as_of() }} where attributed_at is distinct from {{ as_of() }};
    {{ record_watermark(settings=var('attribution')) }};
    {{ record_identity_watermark('link_build', ref('int_opportunity_contacts'), 'cast(null as text)') }}
{%- endmacro %}
