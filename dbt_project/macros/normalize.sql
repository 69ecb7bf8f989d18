{#- Normalisers shared by the staging models. Each takes a SQL expression and returns one. -#}

{#- Trimmed, lower-cased email; null when it is empty or not a syntactically valid address. -#}
{% macro normalize_email(expression) -%}
    case
        when {{ is_valid_email(expression) }}
            then lower(btrim({{ expression }}))
    end
{%- endmacro %}

{% macro is_valid_email(expression) -%}
    lower(btrim({{ expression }})) ~ '^[a-z0-9._%+''-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$'
{%- endmacro %}

{#- email_match_key(normalize_email(expression)) with the address checked once: written that way,
    the check (a regular expression, the costliest step of staging an interaction) runs once for
    every time email_match_key names its argument. -#}
{% macro email_key(expression) -%}
    case
        when {{ is_valid_email(expression) }}
            then {{ email_match_key("lower(btrim(" ~ expression ~ "))") }}
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

{#- An email for matching: normalize_email, and with vars.identity.gmail_dots_and_plus Gmail's own
    rules (dots in the local part and a +tag do not change the mailbox). -#}
{% macro email_match_key(expression) -%}
    {%- if var("identity")["gmail_dots_and_plus"] -%}
    case
        when split_part({{ expression }}, '@', 2) in ('gmail.com', 'googlemail.com')
            then replace(split_part(split_part({{ expression }}, '@', 1), '+', 1), '.', '') || '@gmail.com'
        else {{ expression }}
    end
    {%- else -%}
        {{ expression }}
    {%- endif -%}
{%- endmacro %}

{#- A company name for matching: lower case, punctuation dropped, legal forms (vars.legal_suffixes)
    removed wherever they stand as a word: "Rossi Logistica S.p.A." = "rossi logistica". -#}
{% macro company_match_key(expression) -%}
    {%- set suffixes = var("legal_suffixes") | map("replace", ".", "") | map("replace", "&", "and") | list -%}
    nullif(
        btrim(regexp_replace(
            regexp_replace(
                ' ' || regexp_replace(replace(replace(lower({{ expression }}), '.', ''), '&', ' and '), '[^[:alnum:]]+', ' ', 'g') || ' ',
                ' ({{ suffixes | join("|") }})(?= )', ' ', 'g'
            ),
            '\s+', ' ', 'g'
        )),
        ''
    )
{%- endmacro %}

{#- A person's full name for matching: lower case, letters only, single spaces. -#}
{% macro name_match_key(first_name, last_name) -%}
    nullif(btrim(regexp_replace(
        lower(coalesce({{ first_name }}, '') || ' ' || coalesce({{ last_name }}, '')), '[^[:alpha:]]+', ' ', 'g'
    )), '')
{%- endmacro %}

{#- A phone number in E.164 (+ and 7 to 15 digits), given the digits-and-plus form from staging and
    the calling code and national trunk prefix of the record's country; null when it cannot be. -#}
{% macro e164_phone(phone, calling_code, trunk_prefix) -%}
    (select candidate from (select
        case
            when {{ phone }} like '+%' then {{ phone }}
            when {{ phone }} like '00%' then '+' || substr({{ phone }}, 3)
            when {{ calling_code }} is not null then '+' || {{ calling_code }} || case
                when {{ trunk_prefix }} is not null and {{ phone }} like {{ trunk_prefix }} || '%'
                    then substr({{ phone }}, length({{ trunk_prefix }}) + 1)
                else {{ phone }}
            end
        end as candidate) as c
    where candidate ~ '^\+[1-9][0-9]{6,14}$')
{%- endmacro %}

{#- The run's point in time: vars.as_of, else the environment variable LEADFLOW_AS_OF (how the
    Airflow tasks pass the data interval's end), else now. The environment variable is read when
    running, never while parsing: dbt parses the whole project again when a --vars value differs
    from the last parse, and again every file whose parse read an environment variable that
    changed — a new logical date each day would cost a full parse (5-7 s) in every dbt task. -#}
{% macro as_of() -%}
    {%- set value = var("as_of") or (env_var("LEADFLOW_AS_OF", "") if execute else "") -%}
    {%- if value -%}
    cast('{{ value }}' as timestamptz)
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}

{#- Days from one timestamp to a later one, as double precision: date_part() is float where
    extract(epoch …) is numeric, and numeric power() (every decay) costs ~16× the float one —
    minutes over millions of interactions; even casting extract's numeric costs twice date_part's
    time (3.9 M rows at L: 1.9 s against 0.9 s). -#}
{% macro days_between(earlier, later) -%}
    date_part('epoch', ({{ later }}) - ({{ earlier }})) / 86400
{%- endmacro %}

{#- The UTC day of a timestamp: fct_interactions is indexed by the day its interactions happened,
    for the models that look up a few days of them (macros/rebuild_sets.sql). By the day, not the
    timestamp: with an index on occurred_at itself the planner read the six months of
    contact_interests through it (6 M rows in random order at L: 50 s, against 29 s reading the
    table); no query filters by this expression but those that mean to use it. -#}
{% macro utc_day(timestamp) -%}
    cast(({{ timestamp }}) at time zone 'UTC' as date)
{%- endmacro %}

{#- The letters of the last word of a name, sorted: "john csota" and "Costa" both give "acost". -#}
{% macro letters_of_last_word(expression) -%}
    array_to_string(array(
        select letter
        from unnest(regexp_split_to_array(regexp_replace({{ expression }}, '^.* ', ''), '')) as letter
        order by letter
    ), '')
{%- endmacro %}

{#- Whether the identity fuzzy rule is on: the environment variable LEADFLOW_IDENTITY_FUZZY_MATCH,
    else vars.identity.fuzzy_match. -#}
{% macro fuzzy_match_enabled() -%}
    {%- set setting = env_var("LEADFLOW_IDENTITY_FUZZY_MATCH", var("identity")["fuzzy_match"] | string) -%}
    {{ return(setting | lower in ("true", "1", "yes")) }}
{%- endmacro %}

{#- The fuzzy rule needs pg_trgm (a trusted extension: the database owner may create it); created
    at the start of every dbt invocation when the rule is on, so unit tests find it too. -#}
{% macro create_fuzzy_match_extension() -%}
    {%- if fuzzy_match_enabled() -%}
    create extension if not exists pg_trgm
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
