"""Beat is single and safe: two beats by mistake still run each periodic task once per slot of its schedule,
because each run is claimed in the database (PeriodicRun) before it is sent (salesmarketing/beat.py)."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab, schedule
from django.db import connection, connections

from salesmarketing.beat import ClaimingScheduler, slot_start
from salesmarketing.celery import app as celery_app
from salesmarketing.models import PeriodicRun
from salesmarketing.services import periodic_run_claim
from tests.conftest import require_or_skip

TOKYO = ZoneInfo("Asia/Tokyo")
RUNS: list[str] = []


@celery_app.task(name="tests.salesmarketing.count_run")
def count_run(label: str) -> None:
    RUNS.append(label)


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


def test_an_interval_slot_is_the_window_of_the_clock_the_run_falls_in():
    every_minute = schedule(dt.timedelta(seconds=60), app=celery_app)
    first, second = _at(2026, 12, 3, 10, 0, 5), _at(2026, 12, 3, 10, 0, 55)
    assert (
        slot_start(every_minute, now=first) == slot_start(every_minute, now=second) == _at(2026, 12, 3, 10, 0)
    )
    assert slot_start(every_minute, now=_at(2026, 12, 3, 10, 1, 0)) == _at(2026, 12, 3, 10, 1)


def test_a_crontab_slot_is_its_latest_firing_at_or_before_now():
    nightly = crontab(hour=2, minute=0, app=celery_app)  # Asia/Tokyo, the app's time zone
    assert slot_start(nightly, now=_at(2026, 12, 3, 2, 0, 1)) == _at(2026, 12, 3, 2, 0)
    # A beat started late (its schedule file says yesterday) sends at 02:30: still the 02:00 slot.
    assert slot_start(nightly, now=_at(2026, 12, 3, 2, 30)) == _at(2026, 12, 3, 2, 0)
    assert slot_start(nightly, now=_at(2026, 12, 3, 1, 59)) == _at(2026, 12, 2, 2, 0)
    weekly = crontab(day_of_week=1, hour=0, minute=5, app=celery_app)  # Monday 00:05
    assert slot_start(weekly, now=_at(2026, 12, 3, 12, 0)) == _at(2026, 11, 30, 0, 5)  # Thursday → Monday


@pytest.mark.django_db
def test_a_slot_is_claimed_once_and_old_claims_are_deleted():
    slot = dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)
    assert periodic_run_claim(name="handoff-sla-check", slot=slot - dt.timedelta(days=8))
    assert periodic_run_claim(name="handoff-sla-check", slot=slot)
    assert not periodic_run_claim(name="handoff-sla-check", slot=slot)
    assert periodic_run_claim(name="sweep-lost-work", slot=slot)  # another entry, the same slot
    assert sorted(PeriodicRun.objects.values_list("name", "slot")) == [
        ("handoff-sla-check", slot),
        ("sweep-lost-work", slot),
    ]  # the claim from 8 days ago was deleted by the next one of its entry


def _entry() -> ScheduleEntry:
    return ScheduleEntry(
        name="count-every-hour",
        task="tests.salesmarketing.count_run",
        schedule=schedule(dt.timedelta(hours=1), app=celery_app),
        args=("hourly",),
        app=celery_app,
    )


def _beat(path) -> ClaimingScheduler:
    return ClaimingScheduler(app=celery_app, schedule_filename=str(path))


@pytest.mark.django_db
def test_two_beats_sending_the_same_run_run_it_once(tmp_path):
    RUNS.clear()
    first, second = _beat(tmp_path / "first"), _beat(tmp_path / "second")
    try:
        first.apply_entry(_entry())
        second.apply_entry(_entry())  # the same hour: already claimed, nothing sent
    finally:
        first.close()
        second.close()
    assert RUNS == ["hourly"]
    assert PeriodicRun.objects.filter(name="count-every-hour").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_beats_claiming_at_the_same_moment_on_postgresql_run_it_once(tmp_path):
    require_or_skip(connection.vendor == "postgresql", "needs concurrent connections to PostgreSQL")
    RUNS.clear()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    # Made here, one after the other: opening two schedule files at once races in the shelve's dbm import.
    schedulers = {name: _beat(tmp_path / name) for name in ("first", "second")}

    def beat(name: str) -> None:
        scheduler = schedulers[name]
        try:
            barrier.wait()
            scheduler.apply_entry(_entry())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            scheduler.close()
            connections.close_all()

    threads = [threading.Thread(target=beat, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert RUNS == ["hourly"]
    assert PeriodicRun.objects.filter(name="count-every-hour").count() == 1
