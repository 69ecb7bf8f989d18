{#- Survivorship: for every attribute of the best record, the value of the most trusted origin
    (seed source_priorities: per attribute, else the source's default), then the most recently
    updated, then the most complete origin (most attributes filled). One row per contact and
    attribute, naming the origin that supplied it.

    Per contact incremental (macros/contact_changes.sql): a run rebuilds the contacts logged in
    int_contact_changes since its last build, every contact when source_priorities changed (and
    then logs them for dim_contacts, contact_origins, the profile points and the accounts). -#}
{{
    config(
        materialized="incremental",
        tags=["per_contact"],
        incremental_strategy="delete+insert",
        unique_key="contact_id",
        indexes=[{"columns": ["contact_id"]}],
        post_hook="{{ contact_rebuild_post_hook(
            rules=[ref('source_priorities')], log_own_for=[
                'dim_contacts', 'contact_origins', 'int_contact_profile_points', 'int_contact_accounts'
            ]
        ) }}",
    )
}}

-- depends_on: {{ ref('int_contact_changes') }}
with

origins as (
    select * from {{ ref('int_identity_origins') }}
),

current_contacts as (
    select * from {{ ref('int_contact_origins_current') }}
),

-- not materialized: PostgreSQL materialises a CTE named more than once, and a plan reading a
-- materialised CTE runs in one process (and guesses its sizes)
priorities as not materialized (
    select * from {{ ref('source_priorities') }}
),

attribute_values as (
    select
        current_contacts.contact_id,
        origins.origin_key,
        origins.source_system,
        origins.updated_at,
        origins.completeness,
        a.attribute,
        a.value
    from origins
    inner join current_contacts on origins.origin_key = current_contacts.origin_key
    cross join
        lateral (
            values
            ('first_name', origins.first_name),
            ('last_name', origins.last_name),
            ('job_title', origins.job_title),
            ('company', origins.company),
            ('industry', origins.industry),
            ('company_size', origins.company_size),
            ('country', origins.country),
            ('marketing_area', origins.marketing_area)
        ) as a (attribute, value)
    where
        a.value is not null
        and {{ rebuild_filter('current_contacts.contact_id', rules=[ref('source_priorities')]) }}
),

ranked as (
    select
        attribute_values.*,
        coalesce(for_attribute.priority, for_source.priority, 1000) as source_priority,
        row_number() over (
            partition by attribute_values.contact_id, attribute_values.attribute
            order by
                coalesce(for_attribute.priority, for_source.priority, 1000) asc,
                attribute_values.updated_at desc,
                attribute_values.completeness desc,
                attribute_values.origin_key asc
        ) as survivor_rank
    from attribute_values
    left join priorities as for_attribute
        on
            attribute_values.source_system = for_attribute.source_system
            and attribute_values.attribute = for_attribute.attribute
    left join priorities as for_source
        on
            attribute_values.source_system = for_source.source_system
            and for_source.attribute = '*'
)

select
    contact_id,
    attribute,
    value,
    origin_key,
    source_priority
from ranked
where survivor_rank = 1
