{{ config(severity="warn") }}

{#- Interest codes sent by the sources that seed interest_taxonomy does not know: they count
    nowhere until the taxonomy lists them. -#}
select
    interest.code as interest,
    count(*) as interactions
from {{ ref('fct_interactions') }} as interactions
cross join lateral unnest(string_to_array(interactions.interests, '|')) as interest (code)
where interest.code not in (select taxonomy.interest from {{ ref('interest_taxonomy') }} as taxonomy)
group by interest.code
