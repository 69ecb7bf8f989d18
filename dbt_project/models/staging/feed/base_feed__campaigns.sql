{{ config(materialized="view") }}

{#- Every source's landed campaigns in one relation (raw.<source>__campaigns). -#}
{{ union_feed("campaigns") }}
