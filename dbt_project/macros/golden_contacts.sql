{#- A golden contact is one with at least one source record or email; a cookie that never filled
    a form is an anonymous visitor, whose interactions fct_interactions keeps under a contact_id of
    their own but which has no row in dim_contacts, no scores and no interests. The condition on
    an origin (`origins`: an alias of int_identity_origins) that makes its contact a golden one: -#}
{% macro is_known_origin(origins) -%}
    ({{ origins }}.origin_type = 'record' or {{ origins }}.email is not null)
{%- endmacro %}

{#- Whether `contact_id` (an SQL expression) names a golden contact, by its current origins: for
    models upstream of dim_contacts that would otherwise compute rows for anonymous visitors too
    (at 1 M contacts half the contact ids and a fifth of the interactions), which nothing reads. -#}
{% macro is_golden_contact(contact_id) -%}
    exists (
        select from {{ ref('int_contact_origins_current') }} as golden_current
        inner join {{ ref('int_identity_origins') }} as golden_origins
            on golden_current.origin_key = golden_origins.origin_key
        where golden_current.contact_id = {{ contact_id }} and {{ is_known_origin('golden_origins') }}
    )
{%- endmacro %}
