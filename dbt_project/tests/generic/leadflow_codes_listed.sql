{#- Codes in a '|'-separated list column that `to` (a model or seed) does not list in its column
    `field`: one failing row per unknown code, with the number of rows carrying it. -#}
{% test leadflow_codes_listed(model, column_name, to, field) %}

select
    code.value as code,
    count(*) as rows_with_code
-- (no alias: with a `where` config the model is a subquery that has one)
from {{ model }}
cross join lateral unnest(string_to_array({{ column_name }}, '|')) as code (value)
where code.value not in (select listed.{{ field }} from {{ to }} as listed where listed.{{ field }} is not null)
group by code.value

{% endtest %}
