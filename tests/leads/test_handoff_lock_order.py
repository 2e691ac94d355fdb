"""What an assignment waits for. One that waits for a lead other work holds (a rescore batch, a bulk ingest:
seconds under load) holds no rep meanwhile; one not yet committed (a batch's, in a niced worker descheduled under
load) holds its rep, not the team: the team's other assignments, a hot lead's among them, go ahead meanwhile."""

from __future__ import annotations

import threading
import time

from django.db import connection, transaction
from django.utils import timezone

from leads.handoffs.services import handoff_assign
from leads.models import Handoff
from leads.services import lead_upsert
from tests.conftest import require_or_skip


def _waiting(email: str) -> Handoff:
    lead, _ = lead_upsert(email=email, source="api", name=email.split("@")[0])
    return Handoff.objects.create(lead=lead, mql_at=timezone.now(), score_at_handoff=70, reason="資料DL +30")


def _lock_waits() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _assign_reporting(handoff: Handoff, errors: list) -> None:
    try:
        handoff_assign(handoff_id=handoff.pk)
    except Exception as error:  # noqa: BLE001  (reported by the tests)
        errors.append(error)
    finally:
        connection.close()


def test_an_assignment_waiting_for_a_held_lead_holds_up_no_other_assignment_of_its_team(
    transactional_db, owner, teammate
):
    require_or_skip(connection.vendor == "postgresql", "row locks and lock waits are PostgreSQL's")
    held, hot = _waiting("held@example.jp"), _waiting("hot@example.jp")
    holding, release, errors = threading.Event(), threading.Event(), []

    def bulk_work() -> None:  # holds the first lead's row, as a rescore batch does until it commits
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM leads_lead WHERE id = %s FOR NO KEY UPDATE", [held.lead_id])
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=bulk_work),
        threading.Thread(target=_assign_reporting, args=(held, errors)),
    ]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    deadline = time.monotonic() + 10
    while _lock_waits() == 0:  # the first assignment now waits for the held lead
        assert time.monotonic() < deadline, "the assignment never waited for the held lead"
        time.sleep(0.05)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # were a rep waited for, this would fail
        started = time.monotonic()
        handoff_assign(handoff_id=hot.pk)
        assert time.monotonic() - started < 3
        hot.refresh_from_db()
        assert hot.state == Handoff.State.ASSIGNED and hot.owner in (owner, teammate)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    held.refresh_from_db()
    assert held.state == Handoff.State.ASSIGNED and {held.owner, hot.owner} == {owner, teammate}


def _assigned_in_an_open_transaction(
    handoff: Handoff, assigned: threading.Event, release: threading.Event, errors
):
    """A batch's assignment that has chosen its rep and not committed yet, until `release`."""
    try:
        with transaction.atomic():
            handoff_assign(handoff_id=handoff.pk)
            assigned.set()
            release.wait(30)
    except Exception as error:  # noqa: BLE001  (reported by the tests)
        errors.append(error)
    finally:
        connection.close()


def test_an_assignment_not_yet_committed_holds_its_rep_not_the_team(transactional_db, owner, teammate):
    require_or_skip(connection.vendor == "postgresql", "row locks and lock waits are PostgreSQL's")
    batch, hot = _waiting("batch@example.jp"), _waiting("hot@example.jp")
    assigned, release, errors = threading.Event(), threading.Event(), []
    thread = threading.Thread(
        target=_assigned_in_an_open_transaction, args=(batch, assigned, release, errors)
    )
    thread.start()
    try:
        assert assigned.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # were the team's lock held, this would fail
        started = time.monotonic()
        handoff_assign(handoff_id=hot.pk)
        assert time.monotonic() - started < 3
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        thread.join(30)
    assert errors == []
    batch.refresh_from_db()
    hot.refresh_from_db()
    assert {batch.owner, hot.owner} == {owner, teammate}  # each its own rep, round-robin kept


def test_with_every_rep_held_an_assignment_waits_and_then_counts_the_reps_open_handoffs_afresh(
    transactional_db, owner
):
    """A team of one rep with room for one more handoff: the second assignment waits for the first's commit, then
    finds the rep at capacity and leaves its handoff waiting, as if they had taken turns."""
    require_or_skip(connection.vendor == "postgresql", "row locks and lock waits are PostgreSQL's")
    owner.handoff_capacity = Handoff.objects.filter(owner=owner, state__in=Handoff.OPEN_STATES).count() + 1
    owner.save(update_fields=["handoff_capacity"])
    first, second = _waiting("first@example.jp"), _waiting("second@example.jp")
    assigned, release, errors = threading.Event(), threading.Event(), []
    thread = threading.Thread(
        target=_assigned_in_an_open_transaction, args=(first, assigned, release, errors)
    )
    thread.start()
    assert assigned.wait(10)
    waiting = threading.Thread(target=_assign_reporting, args=(second, errors))
    waiting.start()
    try:
        deadline = time.monotonic() + 10
        while _lock_waits() == 0:  # the second waits for the rep
            assert time.monotonic() < deadline, "the second assignment never waited for the held rep"
            time.sleep(0.05)
    finally:
        release.set()
        thread.join(30)
        waiting.join(30)
    assert errors == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.owner) == (Handoff.State.ASSIGNED, owner)
    assert (second.state, second.owner) == (Handoff.State.UNASSIGNED, None)
