{{ config(materialized="view") }}

{#- Every source's landed interactions in one relation (raw.<source>__interactions, found at run
    time, so a new source needs no model change). -#}
{{ union_feed("interactions") }}
