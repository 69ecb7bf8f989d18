{#- Normalisers shared by the staging models. Each takes a SQL expression and returns one. -#}

{#- Trimmed, lower-cased email; null when it is empty or not a syntactically valid address. -#}
{% macro normalize_email(expression) -%}
    case
        when lower(btrim({{ expression }})) ~ '^[a-z0-9._%+''-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$'
            then lower(btrim({{ expression }}))
    end
{%- endmacro %}

{#- Digits with an optional leading +; null when fewer than 6 digits remain. -#}
{% macro normalize_phone(expression) -%}
    case
        when length(regexp_replace({{ expression }}, '[^0-9]', '', 'g')) >= 6
            then regexp_replace(btrim({{ expression }}), '[^0-9+]', '', 'g')
    end
{%- endmacro %}

{#- Collapsed whitespace, null when empty. -#}
{% macro clean_text(expression) -%}
    nullif(regexp_replace(btrim({{ expression }}), '\s+', ' ', 'g'), '')
{%- endmacro %}

{#- Names as people write them: words capitalised when the source shouted or whispered. -#}
{% macro normalize_name(expression) -%}
    case
        when {{ expression }} = upper({{ expression }}) or {{ expression }} = lower({{ expression }})
            then initcap({{ clean_text(expression) }})
        else {{ clean_text(expression) }}
    end
{%- endmacro %}

{#- 'true'/'yes'/'1'… → true, 'false'/'no'/'0'… → false, anything else → null (unknown). -#}
{% macro parse_flag(expression) -%}
    case
        when lower(btrim({{ expression }})) in ('true', 't', 'yes', 'y', '1', 'opt-in', 'granted') then true
        when lower(btrim({{ expression }})) in ('false', 'f', 'no', 'n', '0', 'opt-out', 'denied') then false
    end
{%- endmacro %}
