{{ config(materialized="view") }}

{#- Every source's landed opportunities in one relation (raw.<source>__opportunities). -#}
{{ union_feed("opportunities") }}
