"""The notification a bulk assign sends its new owner, once per job (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from salesmarketing.notifications import Message

BULK_ASSIGNED = Message(
    "lead_bulk_assigned",
    title=gettext_noop("%(by)s made you the owner of leads: %(count)s"),
    body=gettext_noop("%(reason)s"),
    label=gettext_noop("You are made the owner of leads in bulk"),
    group=gettext_noop("Leads"),
)
