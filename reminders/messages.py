"""The reminders' notifications, rendered in each reader's language (salesmarketing.notifications)."""

from django.utils.translation import gettext_noop

from salesmarketing.notifications import Message

GROUP = gettext_noop("Tasks and reminders")

DUE_SOON = Message(
    "task_due_soon",
    title=gettext_noop("Due soon: %(title)s"),
    body=gettext_noop("%(deal)s\nDue: %(due)s"),
    dates=("due",),
    label=gettext_noop("A task of yours is due soon"),
    group=GROUP,
    email=True,
)
OVERDUE = Message(
    "task_overdue",
    title=gettext_noop("Overdue: %(title)s"),
    body=gettext_noop("%(deal)s\nWas due: %(due)s"),
    dates=("due",),
    label=gettext_noop("A task of yours is overdue"),
    group=GROUP,
    email=True,
)
SNOOZE_OVER = Message(
    "task_snooze_over",
    title=gettext_noop("Reminder: %(title)s"),
    body=gettext_noop("%(deal)s\nDue: %(due)s"),
    dates=("due",),
    label=gettext_noop("A task you snoozed comes back"),
    group=GROUP,
)
