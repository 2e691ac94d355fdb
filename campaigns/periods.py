"""The reporting period a page shows: a preset (last 90 days, this quarter …) or a custom range of local days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

PRESETS = [
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("this_quarter", _("This quarter")),
    ("last_quarter", _("Last quarter")),
    ("this_year", _("This year")),
    ("12m", _("Last 12 months")),
    ("custom", _("Custom range")),
]
DEFAULT = "90d"
MAX_DAYS = 3 * 366


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        return (
            f"{date_format(self.start, 'SHORT_DATE_FORMAT')} – {date_format(self.end, 'SHORT_DATE_FORMAT')}"
        )

    @property
    def bucket(self) -> str:
        """Chart granularity: days up to a month, weeks up to half a year, months beyond."""
        if self.days <= 31:
            return "day"
        if self.days <= 190:
            return "week"
        return "month"

    def bucket_starts(self) -> list[dt.date]:
        if self.bucket == "day":
            return [self.start + dt.timedelta(days=i) for i in range(self.days)]
        if self.bucket == "week":
            first = self.start - dt.timedelta(days=self.start.weekday())
            return [first + dt.timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]
        starts, month = [], self.start.replace(day=1)
        while month <= self.end:
            starts.append(month)
            month = _month_start(month, back=-1)
        return starts

    def bucket_label(self, start: dt.date) -> str:
        if self.bucket == "month":
            return date_format(start, "YEAR_MONTH_FORMAT")
        return date_format(start, "MONTH_DAY_FORMAT")

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start 00:00, day after end 00:00) in the current time zone, for timestamp columns."""
        tz = timezone.get_current_timezone()
        return (
            dt.datetime.combine(self.start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
        )


def period_resolve(
    key: str | None, start: dt.date | None = None, end: dt.date | None = None, *, today: dt.date | None = None
) -> Period:
    today = today or timezone.localdate()
    key = key if key in dict(PRESETS) else DEFAULT
    if key == "custom":
        if start is None and end is None:
            key = DEFAULT
        else:
            end = end or today
            start = start or end - dt.timedelta(days=89)
            if start > end:
                start, end = end, start
            start = max(start, end - dt.timedelta(days=MAX_DAYS - 1))
            return Period(key, start, end)
    if key == "30d":
        return Period(key, today - dt.timedelta(days=29), today)
    if key == "this_month":
        return Period(key, today.replace(day=1), today)
    if key == "last_month":
        start = _month_start(today, back=1)
        return Period(key, start, today.replace(day=1) - dt.timedelta(days=1))
    if key == "this_quarter":
        return Period(key, _quarter_start(today), today)
    if key == "last_quarter":
        end = _quarter_start(today) - dt.timedelta(days=1)
        return Period(key, _quarter_start(end), end)
    if key == "this_year":
        return Period(key, today.replace(month=1, day=1), today)
    if key == "12m":
        return Period(key, _month_start(today, back=11), today)
    return Period(DEFAULT, today - dt.timedelta(days=89), today)
