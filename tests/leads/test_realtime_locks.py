"""A realtime task never waits on a bulk task's lock: while a rescore batch holds its leads' rows (until it
commits, seconds at design scale), scoring an event's leads steps back within REALTIME_LOCK_TIMEOUT_MS and is
retried, instead of holding a realtime worker for as long as the batch runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from leads.choices import TouchType
from leads.models import Handoff, Lead, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.engine import LeadFilter, score_leads
from leads.services import company_resolve, lead_upsert
from leads.tasks import process_touched_leads
from tests.conftest import require_or_skip


@contextlib.contextmanager
def _held(take_locks: Callable[[], object], *, seconds: float = 20) -> Iterator[list[float]]:
    """Another connection runs `take_locks` in a transaction and holds what it locked until the block ends or
    `seconds` pass; yields a list that gets the time it committed."""
    locked, release, released = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                take_locks()
                locked.set()
                release.wait(seconds)
            released.append(time.monotonic())
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(20)
        yield released
    finally:
        release.set()
        thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_event_scoring_steps_back_from_a_rescore_batch_lock_and_succeeds_on_retry(settings):
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    settings.REALTIME_LOCK_TIMEOUT_MS = 300
    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )
    lead, _ = lead_upsert(email="hot@toho.example.jp", source="api", title="部長", company=company)
    Touch.objects.create(
        lead=lead, type=TouchType.DEMO_REQUEST, occurred_at=timezone.now(), source="t", idempotency_key="hot"
    )
    # as a step of rescore_batch_run: its rows stay locked until it commits
    with _held(lambda: score_leads(LeadFilter(first_id=1, last_id=lead.pk + 1000), now=timezone.now())):
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            process_touched_leads([lead.pk])  # called directly, a retry re-raises what made it retry
        assert time.monotonic() - started < 5  # stepped back at once, not after the batch's 20 s
        assert not Handoff.objects.filter(lead=lead).exists()

    assert process_touched_leads([lead.pk]) == 1  # the retry, once the batch committed
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == "mql"
    assert Handoff.objects.filter(lead=lead).count() == 1
    with connection.cursor() as cursor:  # the worker's connection keeps no timeout for its next (bulk) task
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


@pytest.mark.django_db
def test_many_leads_flipping_at_once_are_assigned_in_small_realtime_tasks(django_capture_on_commit_callbacks):
    """A rule change can flip thousands of leads to MQL in one rescore batch: their assignment goes to the
    realtime queue in tasks of at most ASSIGN_BATCH handoffs, not in one task as long as the batch."""
    from leads.scoring.services import ASSIGN_BATCH, leads_score_and_qualify

    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )
    lead_ids = []
    for i in range(ASSIGN_BATCH * 2 + 5):
        lead, _ = lead_upsert(email=f"hot{i}@toho.example.jp", source="api", title="部長", company=company)
        Touch.objects.create(
            lead=lead,
            type=TouchType.DEMO_REQUEST,
            occurred_at=timezone.now(),
            source="t",
            idempotency_key=str(i),
        )
        lead_ids.append(lead.pk)

    with django_capture_on_commit_callbacks() as callbacks:
        handoff_ids = leads_score_and_qualify(lead_ids)

    assert len(handoff_ids) == ASSIGN_BATCH * 2 + 5
    # 100 + 100 + 5 handoffs, one assign_handoffs task each (and one dispatch of the batch's MQL events)
    assigns = [c for c in callbacks if "enqueue_assign" in c.__qualname__]
    assert len(assigns) == 3 and len(callbacks) == 4


def test_a_realtime_task_held_up_by_a_lock_runs_soon_after_the_holder_commits(celery_worker, settings):
    """On a real worker: while other work holds the lead's row, the event's scoring steps back every
    REALTIME_LOCK_TIMEOUT_MS and is tried again at once (not after a growing backoff), so the lead is scored
    within a moment of the holder's commit, however long it held the row."""
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    settings.REALTIME_LOCK_TIMEOUT_MS = 200
    lead, _ = lead_upsert(email="held@example.jp", source="api")
    Touch.objects.create(
        lead=lead, type=TouchType.DEMO_REQUEST, occurred_at=timezone.now(), source="t", idempotency_key="held"
    )
    # long enough for several steps back
    with _held(lambda: Lead.objects.select_for_update(no_key=True).get(pk=lead.pk), seconds=5) as released:
        process_touched_leads.delay([lead.pk])
        deadline = time.monotonic() + 30
        while not Lead.objects.filter(pk=lead.pk, scored_at__isnull=False).exists():
            assert time.monotonic() < deadline, "the lead was not scored within 30 s"
            time.sleep(0.02)
        scored = time.monotonic()
    assert released and scored - released[0] < 2.0  # after a few steps back, a backoff waits up to 8 s


@pytest.mark.django_db(transaction=True)
def test_a_campaign_click_does_not_wait_for_a_lead_that_already_has_its_first_touch_campaign():
    """A long transaction (a rescore step) holds two leads' rows. A batch of campaign clicks for the one that
    already has a first-touch campaign is stored at once; the one without still waits, as it must (its first
    touch campaign is written under the lock)."""
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    from leads.ingest import events_ingest
    from tests.leads.factories import CampaignFactory

    webinar, ad = CampaignFactory(utm_campaign="webinar"), CampaignFactory(utm_campaign="ad")
    known, _ = lead_upsert(email="known@example.jp", source="api")
    Lead.objects.filter(pk=known.pk).update(first_touch_campaign=webinar)
    fresh, _ = lead_upsert(email="fresh@example.jp", source="api")

    def click(n: int, email: str, *, wait_at_most: str = "0"):
        with transaction.atomic():  # one unit; its scoring runs after commit
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = %s", [wait_at_most])
            return events_ingest(
                events=[{"id": f"c{n}", "type": "ad_click", "email": email, "utm_campaign": "ad"}], source="t"
            )

    with _held(lambda: list(Lead.objects.filter(pk__in=[known.pk, fresh.pk]).select_for_update(no_key=True))):
        assert click(1, "known@example.jp", wait_at_most="2s").accepted == 1  # stored, not waiting
        with pytest.raises(OperationalError, match="lock timeout"):
            click(2, "fresh@example.jp", wait_at_most="2s")

    assert click(2, "fresh@example.jp").accepted == 1
    assert dict(Lead.objects.values_list("email", "first_touch_campaign")) == {
        "known@example.jp": webinar.pk,
        "fresh@example.jp": ad.pk,
    }
    assert Touch.objects.filter(campaign=ad).count() == 2
