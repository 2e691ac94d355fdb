"""The notifications handoffs send, rendered in each reader's language (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from leads.models import Handoff
from salesmarketing.notifications import Message

NO_REP = Message(
    "handoff_no_rep",
    title=gettext_noop("No rep available for %(lead)s"),
    label=gettext_noop("No rep available for a new handoff (managers)"),
    group=gettext_noop("Handoffs"),
)
NEW_LEAD = Message(
    "handoff_assigned",
    title=gettext_noop("New lead to call: %(lead)s"),
    body=gettext_noop("Why it is hot: %(why)s\nFirst touch due: %(due)s"),
    dates=("due",),
    label=gettext_noop("A new lead is handed to you"),
    group=gettext_noop("Handoffs"),
    email=True,
)
REJECTED = Message(
    "handoff_rejected",
    title=gettext_noop("Sales rejected a lead from %(campaign)s: %(reason)s"),
    body=gettext_noop("%(lead)s: %(note)s"),
    labels={"reason": Handoff.RejectReason.choices},
    label=gettext_noop("Sales rejected a lead from your campaign"),
    group=gettext_noop("Handoffs"),
)
SLA_REMINDER = Message(
    "handoff_sla_reminder",
    title=gettext_noop("SLA reminder: call %(lead)s by %(due)s"),
    times=("due",),
    label=gettext_noop("SLA reminder before a first touch is due"),
    group=gettext_noop("Handoffs"),
    email=True,
)
SLA_BREACHED = Message(
    "handoff_sla_breached",
    title=gettext_noop("SLA breached: %(lead)s was not contacted by %(rep)s"),
    label=gettext_noop("SLA breached (e-mailed to managers by default)"),
    group=gettext_noop("Handoffs"),
)
