"""Free slots of a rep's booking page and of a team's round-robin page.

A slot is free when it lies in the page's business hours on a weekday the page takes, the day is not a Japanese
public holiday and the rep is not away (User.away_until), it starts at least the page's notice from now and within
its days ahead, and it overlaps none of the rep's meetings: pipeline activities of type meeting or demo that the
rep logged or booked, or on the rep's deals or leads (the "my tasks" rule, reminders.selectors.meetings_ahead).
A booked meeting lasts until its booking's end; a meeting logged by hand is taken to last an hour.

Nothing private leaves here: a public page gets start times only, never what is on the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Q

from leads.handoffs.sla import is_japanese_holiday
from pipeline.booking.models import Booking, BookingPage, TeamBookingPage
from pipeline.models import Activity
from salesmarketing.models import User

LOGGED_MEETING = dt.timedelta(hours=1)  # how long a meeting logged by hand (no booking, so no end) blocks
LONGEST_MEETING = dt.timedelta(hours=2)  # look this far before a window for meetings running into it
DAYS_SHOWN = 7  # a public page shows a week of slots at a time


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


Interval = tuple[dt.datetime, dt.datetime]


def _step(minutes: int) -> dt.timedelta:
    """Slots start every half hour (every quarter for 15-minute meetings)."""
    return dt.timedelta(minutes=min(minutes, 30))


def rep_page_by_slug(slug: str) -> BookingPage | None:
    """An active rep's page taking bookings, with its rep (one query)."""
    return (
        BookingPage.objects.select_related("user")
        .filter(slug=slug, is_active=True, user__is_active=True)
        .first()
    )


def team_page_by_slug(slug: str) -> TeamBookingPage | None:
    return TeamBookingPage.objects.select_related("team").filter(slug=slug, is_active=True).first()


def team_rep_pages(team_page: TeamBookingPage) -> list[BookingPage]:
    """The round robin's reps: the team's active sales reps whose own booking page is on (their hours apply)."""
    return list(
        BookingPage.objects.select_related("user")
        .filter(
            is_active=True,
            user__team_id=team_page.team_id,
            user__is_active=True,
            user__role=User.Role.SALES,
        )
        .order_by("pk")
    )


def busy_intervals(
    user_ids: Iterable[int], *, start: dt.datetime, end: dt.datetime
) -> dict[int, list[Interval]]:
    """Per rep, the meetings that overlap [start, end): one query over the meetings' time index."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = (
        Activity.objects.filter(
            type__in=[Activity.Type.MEETING, Activity.Type.DEMO],
            occurred_at__gte=start - LONGEST_MEETING,
            occurred_at__lt=end,
        )
        .filter(Q(created_by_id__in=ids) | Q(deal__owner_id__in=ids) | Q(lead__owner_id__in=ids))
        .values_list("occurred_at", "booking__ends_at", "created_by_id", "deal__owner_id", "lead__owner_id")
    )
    busy: dict[int, list[Interval]] = defaultdict(list)
    wanted = set(ids)
    for occurred_at, booked_until, *people in rows:
        interval = (occurred_at, booked_until or occurred_at + LOGGED_MEETING)
        for user_id in set(people) & wanted:
            busy[user_id].append(interval)
    return busy


def _window(page: BookingPage, now: dt.datetime) -> tuple[dt.datetime, dt.date]:
    """(the earliest start, the last bookable day)."""
    earliest = now + dt.timedelta(hours=page.notice_hours)
    return earliest, now.astimezone(tz()).date() + dt.timedelta(days=page.days_ahead)


def day_slots(
    page: BookingPage, day: dt.date, *, minutes: int, busy: list[Interval], now: dt.datetime
) -> list[dt.datetime]:
    """The rep's free starts on `day` (aware, Asia/Tokyo) for a meeting of `minutes`."""
    earliest, last_day = _window(page, now)
    away = page.user.away_until
    if (
        day > last_day
        or not page.takes(day)
        or is_japanese_holiday(day)
        or (away is not None and away >= day)
    ):
        return []
    zone, length = tz(), dt.timedelta(minutes=minutes)
    start = dt.datetime.combine(day, page.day_start, zone)
    closes = dt.datetime.combine(day, page.day_end, zone)
    free = []
    while start + length <= closes:
        end = start + length
        if start >= earliest and not any(b_start < end and start < b_end for b_start, b_end in busy):
            free.append(start)
        start += _step(minutes)
    return free


@dataclass
class Week:
    """A week of a page's free slots, for the public page."""

    first: dt.date
    days: list[tuple[dt.date, list[dt.datetime]]]
    previous: dt.date | None
    next: dt.date | None

    @property
    def has_slots(self) -> bool:
        return any(slots for _day, slots in self.days)


def _week_bounds(
    first: dt.date | None, *, now: dt.datetime, days_ahead: int
) -> tuple[dt.date, dt.date, dt.date]:
    today = now.astimezone(tz()).date()
    last = today + dt.timedelta(days=days_ahead)
    first = min(max(first or today, today), last)
    return today, first, last


def _week(first: dt.date, today: dt.date, last: dt.date, slots: dict[dt.date, list[dt.datetime]]) -> Week:
    days = [first + dt.timedelta(days=i) for i in range(DAYS_SHOWN)]
    return Week(
        first=first,
        days=[(day, slots.get(day, [])) for day in days if day <= last],
        previous=max(first - dt.timedelta(days=DAYS_SHOWN), today) if first > today else None,
        next=first + dt.timedelta(days=DAYS_SHOWN) if first + dt.timedelta(days=DAYS_SHOWN) <= last else None,
    )


def _range(first: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    zone = tz()
    return (
        dt.datetime.combine(first, dt.time(0), zone),
        dt.datetime.combine(first + dt.timedelta(days=days), dt.time(0), zone),
    )


def rep_week(page: BookingPage, *, first: dt.date | None, now: dt.datetime) -> Week:
    """A rep's free slots for the week from `first` (today when None): one query (their meetings)."""
    today, first, last = _week_bounds(first, now=now, days_ahead=page.days_ahead)
    start, end = _range(first, DAYS_SHOWN)
    busy = busy_intervals([page.user_id], start=start, end=end).get(page.user_id, [])
    slots = {
        first + dt.timedelta(days=i): day_slots(
            page, first + dt.timedelta(days=i), minutes=page.meeting_minutes, busy=busy, now=now
        )
        for i in range(DAYS_SHOWN)
    }
    return _week(first, today, last, slots)


def team_week(team_page: TeamBookingPage, *, first: dt.date | None, now: dt.datetime) -> Week:
    """A team's free slots for the week: a start is offered when at least one of its reps is free then. Two
    queries (the reps' pages, their meetings), whatever the team's size."""
    pages = team_rep_pages(team_page)
    days_ahead = max((p.days_ahead for p in pages), default=0)
    today, first, last = _week_bounds(first, now=now, days_ahead=days_ahead)
    start, end = _range(first, DAYS_SHOWN)
    busy = busy_intervals([p.user_id for p in pages], start=start, end=end)
    slots: dict[dt.date, set[dt.datetime]] = defaultdict(set)
    for page in pages:
        for i in range(DAYS_SHOWN):
            day = first + dt.timedelta(days=i)
            slots[day].update(
                day_slots(
                    page, day, minutes=team_page.meeting_minutes, busy=busy.get(page.user_id, []), now=now
                )
            )
    return _week(first, today, last, {day: sorted(starts) for day, starts in slots.items()})


def is_free(page: BookingPage, start: dt.datetime, *, minutes: int, now: dt.datetime) -> bool:
    """Whether `start` is one of the rep's free slots now (read again under the booking's lock)."""
    day = start.astimezone(tz()).date()
    lo, hi = _range(day, 1)
    busy = busy_intervals([page.user_id], start=lo, end=hi).get(page.user_id, [])
    return start in day_slots(page, day, minutes=minutes, busy=busy, now=now)


def round_robin_order(reps: list[User], *, now: dt.datetime) -> list[User]:
    """The reps in the round robin's order: fewest upcoming bookings first, then the one booked least recently
    (never booked first), then the longest-standing account. One query."""
    counts = {
        row["pk"]: (row["upcoming"], row["last"])
        for row in User.objects.filter(pk__in=[r.pk for r in reps])
        .annotate(
            upcoming=Count("bookings", filter=Q(bookings__starts_at__gte=now)),
            last=Max("bookings__created_at"),
        )
        .values("pk", "upcoming", "last")
    }
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(reps, key=lambda r: (counts[r.pk][0], counts[r.pk][1] or epoch, r.pk))


def booking_for_confirmation(booking_id: int) -> Booking:
    return Booking.objects.select_related("rep", "lead").get(pk=booking_id)
