"""Beat's scheduler: every periodic run is claimed in the database before it is sent, so that two beats (one
started by mistake, or a second replica) never double-run periodic work or double-send what it sends.

The claim is a `PeriodicRun(name, slot)` row, unique per schedule entry and slot, where the slot is computed from
the schedule alone (not from when this beat started): for `every N seconds` the N-second window of the Unix clock
the run falls in, for a crontab its latest firing time at or before now. Two beats sending the same entry in the
same slot insert the same row; the second gets the IntegrityError and sends nothing. Settings:
CELERY_BEAT_SCHEDULER = "salesmarketing.beat:ClaimingScheduler".
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab, schedule
from django.db import close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def slot_start(entry_schedule: object, *, now: dt.datetime) -> dt.datetime:
    """The start of the slot of `entry_schedule` that `now` (aware) falls in."""
    if isinstance(entry_schedule, crontab):
        return _crontab_slot(entry_schedule, now=now)
    if isinstance(entry_schedule, schedule):
        seconds = entry_schedule.run_every.total_seconds()
        if seconds >= 1:
            elapsed = (now - _EPOCH).total_seconds()
            return _EPOCH + dt.timedelta(seconds=elapsed // seconds * seconds)
    # Any other schedule (solar, custom): one run per second at most.
    return now.replace(microsecond=0)


def _crontab_slot(cron: crontab, *, now: dt.datetime) -> dt.datetime:
    """The latest time at or before `now` the crontab fires (in its time zone, the app's: Asia/Tokyo). Like Celery,
    every field must match (day of month and day of week both)."""
    local = now.astimezone(cron.tz)
    for days_back in range(0, 4 * 366 + 1):  # a crontab fires at least once in four years (29 February)
        day = local.date() - dt.timedelta(days=days_back)
        if (
            day.month not in cron.month_of_year
            or day.day not in cron.day_of_month
            or day.isoweekday() % 7 not in cron.day_of_week  # Celery counts from Sunday = 0
        ):
            continue
        for hour in sorted(cron.hour, reverse=True):
            for minute in sorted(cron.minute, reverse=True):
                fired = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=local.tzinfo)
                if fired <= local:
                    return fired.astimezone(dt.UTC)
    raise ValueError(f"{cron!r} never fires")


class ClaimingScheduler(PersistentScheduler):
    """Celery's default scheduler (schedule file and all), sending a due run only once this beat has claimed it."""

    def apply_async(self, entry: ScheduleEntry, producer=None, advance: bool = True, **kwargs):
        # Here, not at the top: beat loads this class from CELERY_BEAT_SCHEDULER before Django's apps are ready,
        # and the services import models. Not a cycle (nothing imports beat but Celery and its test).
        from salesmarketing.services import periodic_run_claim, periodic_run_release

        if not connection.in_atomic_block:  # (a test's transaction)
            close_old_connections()  # beat runs for months: drop a connection PostgreSQL closed meanwhile
        slot = slot_start(entry.schedule, now=timezone.now())
        claimed_by = f"{socket.gethostname()}:{os.getpid()}"
        if not periodic_run_claim(name=entry.name, slot=slot, claimed_by=claimed_by):
            logger.warning(
                "beat: %s of %s already claimed by another beat; not sent", entry.name, slot.isoformat()
            )
            if advance:
                self.reserve(entry)
            return None
        try:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except Exception:
            periodic_run_release(name=entry.name, slot=slot)
            raise
