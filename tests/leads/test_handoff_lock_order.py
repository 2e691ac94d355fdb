"""An assignment that waits for a lead other work holds (a rescore batch, a bulk ingest: seconds under load) waits
before it takes its team's lock, so the team's other assignments, a hot lead's among them, go ahead meanwhile."""

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

    def assign_held() -> None:
        try:
            handoff_assign(handoff_id=held.pk)
        except Exception as error:  # noqa: BLE001  (reported by the test below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=bulk_work), threading.Thread(target=assign_held)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    deadline = time.monotonic() + 10
    while _lock_waits() == 0:  # the first assignment now waits for the held lead
        assert time.monotonic() < deadline, "the assignment never waited for the held lead"
        time.sleep(0.05)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # were the team's lock held, this would fail
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
