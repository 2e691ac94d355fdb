"""Reporting periods: ISO weeks, months, quarters and custom date ranges, in Asia/Tokyo.

A period is a half-open range of local days [start, end): `end` is the first day after it. Every KPI counts the
records whose timestamp falls in [start 00:00, end 00:00) Tokyo time, so a lead created at 23:59 on Sunday
belongs to that week and one created a minute later to the next.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from salesmarketing.dates import DATE_MAX, DATE_MIN, InvalidDateInput, period_range_message

KPI_TIME_ZONE = ZoneInfo("Asia/Tokyo")

WEEK, MONTH, QUARTER, CUSTOM = "week", "month", "quarter", "custom"
KINDS = (WEEK, MONTH, QUARTER)
KIND_LABELS = {WEEK: _("Week"), MONTH: _("Month"), QUARTER: _("Quarter"), CUSTOM: _("Custom range")}

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_RANGE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_CUSTOM_DAYS = 3 * 366


class PeriodError(InvalidDateInput):
    """A period that cannot be read, does not exist (week 53 of a 52-week year, end before start…) or lies
    outside the dates the app accepts. A ValueError for callers, and a 400 page when a view lets it out."""


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(KPI_TIME_ZONE).date()


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=KPI_TIME_ZONE)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date  # exclusive

    # --- construction ---------------------------------------------------------------------------------

    @classmethod
    def week_of(cls, day: dt.date) -> Period:
        monday = day - dt.timedelta(days=day.weekday())
        return cls(WEEK, monday, monday + dt.timedelta(days=7))

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        return cls(MONTH, first, _add_months(first, 1))

    @classmethod
    def quarter_of(cls, day: dt.date) -> Period:
        first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return cls(QUARTER, first, _add_months(first, 3))

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        if kind == WEEK:
            return cls.week_of(day)
        if kind == MONTH:
            return cls.month_of(day)
        if kind == QUARTER:
            return cls.quarter_of(day)
        raise PeriodError(f"unknown period kind {kind!r}")

    @classmethod
    def current(cls, kind: str, now: dt.datetime | None = None) -> Period:
        return cls.of(kind, local_today(now))

    @classmethod
    def last_complete_week(cls, now: dt.datetime | None = None) -> Period:
        return cls.week_of(local_today(now)).shift(-1)

    @classmethod
    def iso_week(cls, year: int, week: int) -> Period:
        try:
            monday = dt.date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise PeriodError(
                gettext_now("%(year)s-W%(week)02d is not an ISO week.") % {"year": year, "week": week}
            ) from exc
        return cls(WEEK, monday, monday + dt.timedelta(days=7))

    @classmethod
    def between(cls, first_day: dt.date, last_day: dt.date) -> Period:
        """A custom range of whole days, both inclusive."""
        if last_day < first_day:
            raise PeriodError(gettext_now("The end date is before the start date."))
        if (last_day - first_day).days >= MAX_CUSTOM_DAYS:
            raise PeriodError(
                gettext_now("A custom range is at most %(days)s days.") % {"days": MAX_CUSTOM_DAYS}
            )
        return cls(CUSTOM, first_day, last_day + dt.timedelta(days=1)).checked()

    @classmethod
    def parse(cls, text: str, now: dt.datetime | None = None) -> Period:
        """'week' / 'month' / 'quarter' (the current one), '2026-W47', '2026-11', '2026-Q4' or
        '2026-11-01..2026-11-15' (both days inclusive), within the dates the app accepts (DATE_MIN..DATE_MAX);
        anything else raises PeriodError with a message for the user."""
        text = (text or "").strip()
        if text in KINDS:
            return cls.current(text, now)
        year_match = _WEEK_RE.match(text) or _MONTH_RE.match(text) or _QUARTER_RE.match(text)
        if year_match and not DATE_MIN.year <= int(year_match[1]) <= DATE_MAX.year:
            # Checked before building it: year 0, or the month after 9999-12, is not even a Python date.
            raise PeriodError(period_range_message())
        if m := _WEEK_RE.match(text):
            return cls.iso_week(int(m[1]), int(m[2])).checked()
        if m := _MONTH_RE.match(text):
            month = int(m[2])
            if not 1 <= month <= 12:
                raise PeriodError(gettext_now("“%(text)s” is not a month.") % {"text": text})
            return cls.month_of(dt.date(int(m[1]), month, 1)).checked()
        if m := _QUARTER_RE.match(text):
            return cls.quarter_of(dt.date(int(m[1]), 3 * int(m[2]) - 2, 1)).checked()
        if m := _RANGE_RE.match(text):
            try:
                first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            except ValueError as exc:
                raise PeriodError(gettext_now("“%(text)s” is not a date range.") % {"text": text}) from exc
            return cls.between(first, last)
        raise PeriodError(
            gettext_now("“%(text)s” is not a period (such as 2026-W47, 2026-11, 2026-Q4).") % {"text": text}
        )

    def checked(self) -> Period:
        """This period, or PeriodError when a day of it lies outside DATE_MIN..DATE_MAX."""
        if self.start < DATE_MIN or self.last_day > DATE_MAX:
            raise PeriodError(period_range_message())
        return self

    # --- navigation -----------------------------------------------------------------------------------

    def shift(self, n: int) -> Period:
        """The period n steps later (n < 0: earlier) of the same kind."""
        if self.kind == WEEK:
            return Period(WEEK, self.start + dt.timedelta(weeks=n), self.end + dt.timedelta(weeks=n))
        if self.kind == MONTH:
            return Period(MONTH, _add_months(self.start, n), _add_months(self.start, n + 1))
        if self.kind == QUARTER:
            return Period(QUARTER, _add_months(self.start, 3 * n), _add_months(self.start, 3 * n + 3))
        length = self.end - self.start
        return Period(CUSTOM, self.start + n * length, self.end + n * length)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def trailing(self, count: int) -> list[Period]:
        """The `count` periods ending with this one, oldest first."""
        return [self.shift(n) for n in range(1 - count, 1)]

    # --- times ----------------------------------------------------------------------------------------

    @property
    def start_at(self) -> dt.datetime:
        return local_midnight(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return local_midnight(self.end)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def elapsed_share(self, now: dt.datetime | None = None) -> float:
        """How much of the period has passed: 0 before it, 1 after it."""
        now = now or timezone.now()
        total = (self.end_at - self.start_at).total_seconds()
        done = (min(max(now, self.start_at), self.end_at) - self.start_at).total_seconds()
        return done / total

    def is_over(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.end_at

    def is_current(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.start_at <= now < self.end_at

    # --- names ----------------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The machine form used in URLs: 2026-W47, 2026-11, 2026-Q4, 2026-11-01..2026-11-15."""
        if self.kind == WEEK:
            year, week, _day = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"

    @property
    def iso_week_number(self) -> int | None:
        return self.start.isocalendar()[1] if self.kind == WEEK else None

    def __str__(self) -> str:
        return self.label


def period_to_date(kind: str, *, until: dt.date) -> tuple[Period, float]:
    """The part of the `kind` period containing `until - 1 day` that lies before `until` (month-to-date,
    quarter-to-date), and the share of that whole period it covers (for pacing)."""
    whole = Period.of(kind, until - dt.timedelta(days=1))
    part = Period(CUSTOM, whole.start, until)
    return part, part.days / whole.days
