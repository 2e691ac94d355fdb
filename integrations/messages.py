"""The in-app notifications integrations send admins (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from salesmarketing.notifications import Message

WEBHOOK_FAILING = Message(
    "webhook_failing",
    title=gettext_noop("Webhook “%(name)s” is failing and was switched off"),
    body=gettext_noop(
        "Its deliveries failed for the whole retry window. Check the receiver, then switch it on."
    ),
)
CHANNEL_FAILING = Message(
    "team_channel_failing",
    title=gettext_noop("The chat channel of %(team)s is failing and was switched off"),
    body=gettext_noop(
        "Its messages failed for the whole retry window. Check the channel's settings and save them."
    ),
)
