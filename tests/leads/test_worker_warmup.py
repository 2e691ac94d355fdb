"""A worker builds the Japanese holiday calendar when it starts, not inside a hot lead's first assignment."""

from celery import signals
from django.utils import timezone

from leads.handoffs.sla import _japanese_holidays
from leads.handoffs.tasks import _warm_holiday_calendar


def test_worker_start_builds_this_and_next_years_holiday_calendar():
    # Connected to worker_init (sending the signal itself would also install Celery's Django fixup in this process).
    assert id(_warm_holiday_calendar) in {key[0] for key, _ in signals.worker_init.receivers}
    _japanese_holidays.cache_clear()
    assert _japanese_holidays().years == set()  # nothing built until a look-up
    _warm_holiday_calendar()
    year = timezone.localdate().year
    assert {year, year + 1} <= _japanese_holidays().years
