"""The notifications deals send, rendered in each reader's language (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from salesmarketing.notifications import Message

DEALS = gettext_noop("Deals")
DEAL_NEW = Message(
    "deal_new",
    title=gettext_noop("New deal for you: %(name)s"),
    label=gettext_noop("A new deal is made for you"),
    group=DEALS,
)
DEAL_HANDED = Message(
    "deal_handed",
    title=gettext_noop("A deal was handed to you: %(name)s"),
    label=gettext_noop("A deal is handed to you"),
    group=DEALS,
)
DEAL_WON = Message(
    "deal_won", title=gettext_noop("Deal won: %(name)s"), label=gettext_noop("A deal is won"), group=DEALS
)
