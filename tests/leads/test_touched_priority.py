"""A single capture's scoring (and its handoff's assignment) never waits behind bulk ingest's: batch work goes to
the `ingest` queue, which has workers of its own, so the `realtime` workers take single captures only; and at a
lower message priority (Redis, CELERY_BROKER_TRANSPORT_OPTIONS), so a worker consuming both queues runs the hot
lead's task before any batch queued ahead of it."""

from __future__ import annotations

import json
import time

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leads.choices import TouchType
from leads.models import AssignmentLog, Handoff, Lead, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify
from leads.services import TOUCHED_HOT_MAX, company_resolve, lead_upsert, leads_touched
from leads.tasks import process_touched_leads
from salesmarketing.celery import app as celery_app
from salesmarketing.celery import broker_queue_keys
from salesmarketing.models import User
from tests.conftest import require_or_skip
from tests.leads.factories import LeadFactory
from tests.salesmarketing.factories import TeamFactory, UserFactory

BIG_BATCHES = 5


def test_a_single_leads_scoring_runs_before_big_batches_queued_ahead_of_it(transactional_db, request):
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker for a real worker")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    keys = [*broker_queue_keys("realtime"), *broker_queue_keys("ingest")]
    broker.delete(*keys)  # nothing left over from an earlier test
    big = [[lead.pk for lead in LeadFactory.create_batch(TOUCHED_HOT_MAX + 1)] for _ in range(BIG_BATCHES)]
    hot = LeadFactory()
    celery_app.conf.task_always_eager = (
        False  # queued on Redis, before any worker runs (the fixture restores it)
    )
    for batch in big:  # a bulk API batch each, then one form post
        with transaction.atomic():
            leads_touched(batch)
    with transaction.atomic():
        leads_touched([hot.pk])
    queued = {key: broker.llen(key) for key in keys}
    assert {key: n for key, n in queued.items() if n} == {"realtime": 1, "ingest\x06\x166": BIG_BATCHES}

    request.getfixturevalue("celery_worker")  # one worker on every queue (solo pool): one message at a time
    everyone = [hot.pk, *(pk for batch in big for pk in batch)]
    deadline = time.monotonic() + 30
    while Lead.objects.filter(pk__in=everyone, scored_at__isnull=True).exists():
        assert time.monotonic() < deadline, "the worker did not score every lead within 30 s"
        time.sleep(0.1)
    scored = dict(Lead.objects.filter(pk__in=everyone).values_list("pk", "scored_at"))
    batch_started = sorted({scored[batch[0]] for batch in big})
    assert all(scored[pk] == scored[batch[0]] for batch in big for pk in batch)  # one task a batch
    assert len(batch_started) == BIG_BATCHES
    assert scored[hot.pk] < batch_started[0]  # queued last, run first


def _queued_tasks(broker, key: str) -> list[str]:
    return [json.loads(raw)["headers"]["task"] for raw in broker.lrange(key, 0, -1)]


def test_handoffs_are_assigned_in_the_lane_their_leads_were_scored_in(transactional_db):
    """Leads scored as batch work (a bulk ingest, a rescore; the sweep's catch-up too: leads.tasks.sweep) have
    their handoffs assigned in the batch lane, however few of them qualify, so a batch's MQLs never queue on
    `realtime` ahead of a single capture's; a single capture's handoff stays realtime."""
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker to queue on")
    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )

    many = [_hot_lead(company, n) for n in range(TOUCHED_HOT_MAX + 1)]
    cold = [lead.pk for lead in LeadFactory.create_batch(TOUCHED_HOT_MAX)]
    one_of_many = [_hot_lead(company, 50), *cold]  # only the first qualifies
    single = _hot_lead(company, 99)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(*broker_queue_keys("realtime"), *broker_queue_keys("ingest"))
    celery_app.conf.task_always_eager = False  # queued on Redis, not run (the fixture restores it)
    assert len(leads_score_and_qualify(many)) == TOUCHED_HOT_MAX + 1
    assert len(leads_score_and_qualify(one_of_many)) == 1
    assert len(leads_score_and_qualify([single])) == 1
    assign = "leads.tasks.assign_handoffs"
    # The eleven in one task, then the one of many.
    assert _queued_tasks(broker, "ingest\x06\x166") == [assign, assign]
    assert _queued_tasks(broker, "realtime") == [assign]  # the single one, at the highest priority


def test_a_single_captures_handoff_is_assigned_in_the_task_that_scored_it(transactional_db):
    """process_touched_leads assigns a single capture's new handoff itself, once scoring has committed: no
    second task on `realtime` stands between the hot lead and its rep. A handoff it could not assign (here: no
    sales team yet) is assigned when the task runs again, as a retry or a redelivery after a crash runs it; a
    batch's handoffs are still queued in the batch lane."""
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker to queue on")
    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )
    leads = [_hot_lead(company, n) for n in range(TOUCHED_HOT_MAX + 2)]
    single, batch = leads[0], leads[1:]
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(*broker_queue_keys("realtime"), *broker_queue_keys("ingest"))
    celery_app.conf.task_always_eager = False  # what the task queues stays on Redis (the fixture restores it)
    assign = "leads.tasks.assign_handoffs"

    assert process_touched_leads.apply(args=([single],)).get() == 1
    handoff = Handoff.objects.get(lead_id=single)
    assert handoff.state == Handoff.State.UNASSIGNED  # nobody to give it to
    assert AssignmentLog.objects.filter(handoff=handoff).count() == 1

    team = TeamFactory(name="東日本")
    rep = UserFactory(username="east_rep", role=User.Role.SALES, team=team)
    assert process_touched_leads.apply(args=([single],)).get() == 0  # run again: no new handoff, the same one
    handoff.refresh_from_db()
    assert (handoff.state, handoff.owner_id) == (Handoff.State.ASSIGNED, rep.pk)
    assert assign not in _queued_tasks(broker, "realtime")

    assert process_touched_leads.apply(args=(batch,)).get() == len(batch)
    assert not Handoff.objects.filter(lead_id__in=batch).exclude(state=Handoff.State.UNASSIGNED).exists()
    assert _queued_tasks(broker, "ingest\x06\x166") == [assign]
    assert assign not in _queued_tasks(broker, "realtime")


def _hot_lead(company, n: int) -> int:
    """A lead whose demo request makes it qualify (default scoring) once it is scored."""
    lead, _ = lead_upsert(email=f"hot{n}@toho.example.jp", source="api", title="部長", company=company)
    Touch.objects.create(
        lead=lead,
        type=TouchType.DEMO_REQUEST,
        occurred_at=timezone.now(),
        source="t",
        idempotency_key=f"h{n}",
    )
    return lead.pk
