{#- Every attributed opportunity's credits add up to 1 under every model (to rounding). -#}
select
    source_system,
    opportunity_id,
    model,
    sum(credit) as total_credit
from {{ ref('campaign_attribution') }}
group by source_system, opportunity_id, model
having abs(sum(credit) - 1) > 0.000001
