"""The notifications handoffs send, rendered in each reader's language (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from leads.models import Handoff
from salesmarketing.notifications import Message

NO_REP = Message("handoff_no_rep", title=gettext_noop("No rep available for %(lead)s"))
NEW_LEAD = Message(
    "handoff_assigned",
    title=gettext_noop("New lead to call: %(lead)s"),
    body=gettext_noop("Why it is hot: %(why)s\nFirst touch due: %(due)s"),
    dates=("due",),
)
REJECTED = Message(
    "handoff_rejected",
    title=gettext_noop("Sales rejected a lead from %(campaign)s: %(reason)s"),
    body=gettext_noop("%(lead)s: %(note)s"),
    labels={"reason": Handoff.RejectReason.choices},
)
SLA_REMINDER = Message(
    "handoff_sla_reminder", title=gettext_noop("SLA reminder: call %(lead)s by %(due)s"), times=("due",)
)
SLA_BREACHED = Message(
    "handoff_sla_breached", title=gettext_noop("SLA breached: %(lead)s was not contacted by %(rep)s")
)
