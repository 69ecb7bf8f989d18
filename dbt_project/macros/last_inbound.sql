{#- A contact's last inbound interaction up to the run's logical date, given its dim_contacts row
    (`contact_id`, `last_interaction_at`: its last inbound interaction of all). That one, unless
    it lies after the date (interactions dated ahead, a backfill of an earlier day): then the last
    one up to the date, looked up by fct_interactions' index. So a model that needs it for every
    contact reads no interactions on an ordinary day, where taking the latest of each contact's
    interactions read all of them (11 M at L, 2–4 s a model). -#}
{% macro last_inbound_at(contact_id, last_interaction_at) -%}
    case
        when {{ last_interaction_at }} is null or {{ last_interaction_at }} <= {{ as_of() }}
            then {{ last_interaction_at }}
        else {{ last_inbound_interaction_at(contact_id, until=as_of()) }}
    end
{%- endmacro %}

{#- A contact's first interaction and its last inbound one, of all or up to `until` (`contact_id`:
    an SQL expression): a lookup each by fct_interactions' (contact_id, occurred_at) index, as
    scalar subqueries (dim_contacts and its update of the contacts whose only news is
    interactions; last_inbound_at() above) -#}
{% macro first_interaction_at(contact_id) -%}
    (
        select min(interactions.occurred_at) from {{ ref('fct_interactions') }} as interactions
        where interactions.contact_id = {{ contact_id }}
    )
{%- endmacro %}

{% macro last_inbound_interaction_at(contact_id, until=none) -%}
    (
        select max(interactions.occurred_at) from {{ ref('fct_interactions') }} as interactions
        where
            interactions.contact_id = {{ contact_id }}
            and interactions.direction = 'inbound'
            and {% if until is not none %}interactions.occurred_at <= {{ until }}{% else %}true{% endif %}
    )
{%- endmacro %}
