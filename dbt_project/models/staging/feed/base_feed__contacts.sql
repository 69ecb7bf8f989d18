{{ config(materialized="view") }}

{#- Every source's landed contact records in one relation (raw.<source>__contacts, found at run time,
    so a new source needs no model change). -#}
{{ union_feed("contacts") }}
