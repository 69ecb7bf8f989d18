-- noqa: disable=LT02
-- (sqlfluff lints the macros' bodies as one query; their indentation follows the Jinja blocks)
{#- int_contact_addresses: what the best record reads of a contact's addresses, one md5 per
    contact of `relation`'s rows: which addresses it holds, their consent, unsubscribes, sharing,
    usability and which is best (dim_contacts and contact_origins read no more, and is_shared
    also names the holders of a shared key to contact_origins). Not the dates and counts only
    contact_addresses shows: a re-landed record restates every holder's consent date of a shared
    address (info@…), about 21 k contacts a day at L, with nothing else of theirs changed. -#}
{% macro addresses_read_by_best_record(relation) -%}
    select
        a.contact_id,
        md5(string_agg(
            row(a.channel, a.address_key, a.address, a.permission, a.has_unsubscribed, a.is_shared, a.is_usable, a.is_best)::text,
            ',' order by a.channel, a.address_key
        )) as digest
    from {{ relation }} as a
    group by a.contact_id
{%- endmacro %}

{#- int_contact_addresses' pre-hook, after its rebuild set's: the rebuilt contacts' digests before
    the build (addresses_read_by_best_record()); empty on a first or full build -#}
{% macro addresses_before_pre_hook() -%}
    create temporary table pg_temp.{{ this.name }}__before on commit drop as
    {%- if is_incremental() %}
    {{ addresses_read_by_best_record(
        "(select * from " ~ this ~ " where contact_id in (select r.contact_id from " ~ rebuild_set() ~ " as r))"
    ) }};
    {%- else %}
    select null::text as contact_id, null::text as digest where false;
    {%- endif %}
    analyze pg_temp.{{ this.name }}__before
{%- endmacro %}

{#- int_contact_addresses' post-hook, before the one that logs: the rebuilt contacts whose digest
    is as before, as a temporary table it analyzes (addresses_restated() reads it). Joined to the
    log's query directly, the digest of the written rows (dbt's temporary table, never analyzed)
    was recomputed for every contact logged: 30 s a day at L instead of 0.2 s. -#}
{% macro addresses_restated_post_hook() -%}
    create temporary table pg_temp.{{ this.name }}__restated on commit drop as
    select before.contact_id
    from pg_temp.{{ this.name }}__before as before
    inner join ({{ addresses_read_by_best_record(rows_written_here()) }}) as after
        on before.contact_id = after.contact_id and before.digest = after.digest;
    analyze pg_temp.{{ this.name }}__restated
{%- endmacro %}

{#- the contacts addresses_restated_post_hook() found: logged as 'restated' for the readers that
    show more (contact_addresses), which dim_contacts and contact_origins skip
    (contacts_to_rebuild(restated=false)) -#}
{% macro addresses_restated() -%}
    select restated.contact_id from pg_temp.{{ this.name }}__restated as restated
{%- endmacro %}
