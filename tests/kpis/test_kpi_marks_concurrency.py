"""Writers marking the same KPI day never wait for one another (PostgreSQL): each appends its own mark.

Before marks were appended, a write upserted its day's one row and held it until commit, so every write of a day
waited for the open transaction that marked it first: every one of today's in the ten minutes before Tokyo
midnight, and any two corrections of one past day (ingest, scoring and hand-offs timed out on it under load)."""

from __future__ import annotations

import datetime as dt
import threading

from django.db import connection, transaction

from leads.choices import TouchType
from leads.models import Touch
from tests.conftest import require_or_skip
from tests.leads.factories import LeadFactory


def _touch(lead, key: str, at: dt.datetime) -> None:
    Touch.objects.create(lead=lead, type=TouchType.PAGE_VIEW, occurred_at=at, source="t", idempotency_key=key)


def _hold(lead, day: dt.datetime, marked: threading.Event, release: threading.Event) -> None:
    """Mark `day` in a transaction left open until `release`."""
    try:
        with transaction.atomic():
            _touch(lead, f"held-{day:%j}", day)
            marked.set()
            release.wait(30)
    finally:
        connection.close()


def test_a_write_marking_a_day_does_not_wait_for_an_open_transaction_that_marked_it(transactional_db):
    require_or_skip(connection.vendor == "postgresql", "row locks and lock_timeout are PostgreSQL's")
    first, second = LeadFactory(), LeadFactory()
    for day in (dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC) - dt.timedelta(days=3)):  # today, a past day
        marked, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=_hold, args=(first, day, marked, release))
        holder.start()
        try:
            assert marked.wait(30)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
                _touch(second, f"other-{day:%j}", day)  # raised LockNotAvailable when marks were upserted
        finally:
            release.set()
            holder.join(30)
    assert Touch.objects.count() == 4
