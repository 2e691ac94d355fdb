"""Two workers scoring the same lead at the same moment still make exactly one MQL and one handoff."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from leads.choices import TouchType
from leads.models import Handoff, Lead, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify
from leads.services import company_resolve, lead_upsert
from tests.conftest import require_or_skip


@pytest.mark.django_db(transaction=True)
def test_racing_workers_make_one_handoff():
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )
    leads = []
    for i in range(20):
        lead, _ = lead_upsert(email=f"hot{i}@toho.example.jp", source="api", title="部長", company=company)
        Touch.objects.create(
            lead=lead,
            type=TouchType.DEMO_REQUEST,
            occurred_at=lead.created_at,
            source="t",
            idempotency_key=str(i),
        )
        leads.append(lead.pk)

    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(leads_score_and_qualify(leads))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(len(r) for r in results) == 20  # each handoff created by exactly one worker
    assert Handoff.objects.count() == 20
    assert set(Handoff.objects.values_list("lead_id", flat=True)) == set(leads)
    assert Lead.objects.filter(lifecycle_stage="mql").count() == 20


@pytest.mark.django_db(transaction=True)
def test_the_last_two_batches_finishing_at_once_finish_the_run():
    """While one worker marks its batch done (uncommitted, holding the run's row in its final check), the other
    last batch waits for it and then sees it done, so the run finishes."""
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    from django.db import transaction
    from django.utils import timezone

    from leads.models import RescoreBatch, RescoreRun
    from leads.scoring.services import rescore_batch_run

    ensure_default_scoring()
    lead_upsert(email="batch@example.jp", source="api")
    run = RescoreRun.objects.create(version=1, reason="race", total_batches=2)
    first = RescoreBatch.objects.create(run=run, first_id=1, last_id=1_000_000)
    second = RescoreBatch.objects.create(run=run, first_id=1_000_001, last_id=2_000_000)
    inside, done = threading.Event(), []

    def other_worker():
        try:
            inside.wait(10)
            done.append(rescore_batch_run(batch_id=second.pk))  # blocks on the run's row until we commit
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    with transaction.atomic():  # the first worker, at its final check
        RescoreBatch.objects.filter(pk=first.pk).update(done_at=timezone.now())
        RescoreRun.objects.select_for_update().get(pk=run.pk)
        inside.set()
        thread.join(1)
        assert thread.is_alive()  # waiting for us, not deciding on what it cannot see yet
    thread.join(30)
    assert done == [True]
    run.refresh_from_db()
    assert run.finished_at is not None
