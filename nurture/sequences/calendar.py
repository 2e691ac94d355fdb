"""When a sequence's step is due: waits counted in business days of the SLA calendar the handoffs use
(leads.handoffs.sla: Mon–Fri, Japanese public holidays off, Asia/Tokyo), sent at the step's hour."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from leads.handoffs.sla import is_business_day


def step_due(after: dt.datetime, *, wait_days: int, send_hour: int) -> dt.datetime:
    """`wait_days` business days after the day of `after`, at `send_hour` local time. A wait of 0 is the next
    business-day `send_hour` from `after` on (today's, if it is a business day and the hour is still ahead)."""
    tz = timezone.get_default_timezone()
    day = after.astimezone(tz).date()
    remaining = wait_days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    for _ in range(366):
        due = dt.datetime.combine(day, dt.time(send_hour), tz)
        if is_business_day(day) and due >= after:
            return due
        day += dt.timedelta(days=1)
    raise ValueError("no business day within a year")  # pragma: no cover - the calendar always has one
