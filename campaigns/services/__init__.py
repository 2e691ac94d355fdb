"""Writes for campaigns, costs, personas and persona rules (a package: campaigns, costs, personas).
Keyword-only, atomic; side effects after commit.

The background work they start (linking a new campaign's touches, matching every lead again) is queued through
campaigns.tasks, which never imports this package: the tasks call the lower modules (attribution, personas,
touches) directly.
"""

from campaigns.services.campaigns import CAMPAIGN_FIELDS, campaign_create, campaign_update
from campaigns.services.costs import cost_add, cost_delete
from campaigns.services.personas import persona_save, personas_rematch_all, rule_delete, rule_save

__all__ = [
    "CAMPAIGN_FIELDS",
    "campaign_create",
    "campaign_update",
    "cost_add",
    "cost_delete",
    "persona_save",
    "personas_rematch_all",
    "rule_delete",
    "rule_save",
]
