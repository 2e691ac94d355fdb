"""Business-hours arithmetic for handoff SLAs: Mon–Fri within the team's day, Japanese public holidays off."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings


@lru_cache(maxsize=1)
def _japanese_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("JP")  # expands to any year on first look-up


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _japanese_holidays()


def is_japanese_holiday(day: dt.date) -> bool:
    """A public holiday in Japan (振替休日 and 国民の休日 included), whatever the weekday."""
    return day in _japanese_holidays()


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def add_business_hours(
    start: dt.datetime, hours: float, *, day_start: int = 9, day_end: int = 18
) -> dt.datetime:
    """The moment `hours` business hours after `start` (an aware datetime); returned in the local time zone."""
    tz = _tz()
    current = start.astimezone(tz)
    remaining = dt.timedelta(hours=hours)
    for _ in range(3660):  # ten years of days: a bound, never reached with sane inputs
        day = current.date()
        opens = dt.datetime.combine(day, dt.time(day_start), tz)
        closes = dt.datetime.combine(day, dt.time(0), tz) + dt.timedelta(hours=day_end)
        if not is_business_day(day) or current >= closes:
            current = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
            continue
        current = max(current, opens)
        if current + remaining <= closes:
            return current + remaining
        remaining -= closes - current
        current = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
    raise ValueError("business hours out of range")


def business_hours_between(
    start: dt.datetime, end: dt.datetime, *, day_start: int = 9, day_end: int = 18
) -> float:
    """Business hours from `start` to `end` (negative when end is earlier)."""
    if end < start:
        return -business_hours_between(end, start, day_start=day_start, day_end=day_end)
    tz = _tz()
    current, end = start.astimezone(tz), end.astimezone(tz)
    total = dt.timedelta()
    while current < end:
        day = current.date()
        opens = dt.datetime.combine(day, dt.time(day_start), tz)
        closes = dt.datetime.combine(day, dt.time(0), tz) + dt.timedelta(hours=day_end)
        if is_business_day(day):
            lo, hi = max(current, opens), min(end, closes)
            if hi > lo:
                total += hi - lo
        current = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
    return total.total_seconds() / 3600
