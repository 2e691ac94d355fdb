"""When an item is due and when it is reminded of: a to-do, a next step or an action item has a due *date*; it is
due at TASKS_DUE_HOUR on that day (Asia/Tokyo, the end of the business day by default), reminded
TASKS_REMIND_BEFORE_MINUTES before, and reminded again when it becomes overdue. A snooze puts both off: one
reminder when the snooze ends, and those of the schedule that fall after it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

from leads.handoffs.sla import is_business_day
from reminders.models import ReminderSent

MORNING = dt.time(9, 0)


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(tz()).date()


def due_moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(settings.TASKS_DUE_HOUR), tzinfo=tz())


def stages(*, due: dt.datetime, snoozed_until: dt.datetime | None) -> list[tuple[str, dt.datetime]]:
    """(stage, moment) of every reminder of an item, in time order."""
    planned = [
        (ReminderSent.Stage.BEFORE.value, due - dt.timedelta(minutes=settings.TASKS_REMIND_BEFORE_MINUTES)),
        (ReminderSent.Stage.OVERDUE.value, due),
    ]
    if snoozed_until is None:
        return planned
    return [
        (ReminderSent.Stage.SNOOZED.value, snoozed_until),
        *((s, at) for s, at in planned if at > snoozed_until),
    ]


SNOOZE_CHOICES = ("hour", "tomorrow", "business_day")


def snooze_until(choice: str, *, now: dt.datetime) -> dt.datetime:
    """1 hour from now; tomorrow 9:00; the next business day (Mon–Fri, Japanese holidays off) 9:00, Asia/Tokyo."""
    if choice == "hour":
        return now + dt.timedelta(hours=1)
    day = local_date(now) + dt.timedelta(days=1)
    if choice == "business_day":
        while not is_business_day(day):
            day += dt.timedelta(days=1)
    elif choice != "tomorrow":
        raise ValueError(choice)
    return dt.datetime.combine(day, MORNING, tzinfo=tz())
