{#- Rows whose value lies outside [min_value, max_value] fail; a missing bound is no bound
    (a comparison with null is never true). -#}
{% test leadflow_accepted_range(model, column_name, min_value=none, max_value=none) %}

select *
from {{ model }}
where
    {{ column_name }} < {{ "null" if min_value is none else min_value }}
    or {{ column_name }} > {{ "null" if max_value is none else max_value }}

{% endtest %}
