"""The MQL → SQL handoff: assignment, the SLA clock (business hours), first touch, accept, reject and undo.

services.py writes, selectors.py reads for the pages and the API, views.py / forms.py the handoff list,
api.py the `/api/v1/handoffs` endpoints (mounted by leads.api's router), tasks.py assignment and the SLA check,
sla.py business hours. The services are re-exported here, the feature's public face for other code.
"""

from leads.handoffs.services import (
    UNDO_SECONDS,
    HandoffConflict,
    SlaResult,
    handoff_accept,
    handoff_assign,
    handoff_assign_to,
    handoff_can_undo,
    handoff_decision_undo,
    handoff_first_touch,
    handoff_reject,
    lead_first_touched,
    rep_availability_set,
    sla_check,
)

__all__ = [
    "UNDO_SECONDS",
    "HandoffConflict",
    "SlaResult",
    "handoff_accept",
    "handoff_assign",
    "handoff_assign_to",
    "handoff_can_undo",
    "handoff_decision_undo",
    "handoff_first_touch",
    "handoff_reject",
    "lead_first_touched",
    "rep_availability_set",
    "sla_check",
]
