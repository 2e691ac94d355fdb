"""The notifications an owner change sends, rendered in each reader's language (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from salesmarketing.notifications import Message

OWNER_CHANGED = Message(
    "lead_owner_changed",
    title=gettext_noop("%(by)s made you the owner of %(lead)s"),
    body=gettext_noop("%(reason)s"),
    label=gettext_noop("You are made the owner of a lead"),
    group=gettext_noop("Leads"),
)
COMPANY_OWNER_CHANGED = Message(
    "company_owner_changed",
    title=gettext_noop("%(by)s made you the owner of %(company)s"),
    body=gettext_noop("%(reason)s"),
    label=gettext_noop("You are made the owner of a company"),
    group=gettext_noop("Leads"),
)
