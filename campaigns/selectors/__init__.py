"""Page-level reads for campaigns, personas and the marketing dashboard. Numbers come from the stored roll-ups
(AttributionDay, SegmentDay; a period's whole months from AttributionMonth and CampaignCostMonth), costs and
handoffs, aggregated in SQL; each page runs a fixed number of queries whatever the data size.

- `campaigns`: the campaign list and a campaign's page;
- `personas`: the persona list and a persona's page;
- `dashboard`: the marketers' dashboard;
- `common`: who may edit, the numbers of a campaign, chart buckets.
"""

from campaigns.selectors.campaigns import (
    CampaignDetail,
    CampaignTable,
    campaign_detail,
    campaign_leads,
    campaign_table,
    no_campaign_numbers,
)
from campaigns.selectors.common import REASON_LABELS, STEP_ORDER, Numbers, attribution_state, can_edit
from campaigns.selectors.dashboard import Dashboard, marketing_dashboard
from campaigns.selectors.personas import PersonaDetail, persona_detail, persona_list

__all__ = [
    "REASON_LABELS",
    "STEP_ORDER",
    "CampaignDetail",
    "CampaignTable",
    "Dashboard",
    "Numbers",
    "PersonaDetail",
    "attribution_state",
    "campaign_detail",
    "campaign_leads",
    "campaign_table",
    "can_edit",
    "marketing_dashboard",
    "no_campaign_numbers",
    "persona_detail",
    "persona_list",
]
