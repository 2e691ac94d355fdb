"""A single capture's scoring jumps ahead of bulk ingest's on the shared `realtime` queue (message priorities on
Redis, CELERY_BROKER_TRANSPORT_OPTIONS): with big batches queued first, a real worker runs the hot lead's task
before any of theirs."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import transaction

from leads.models import Lead
from leads.services import TOUCHED_HOT_MAX, leads_touched
from salesmarketing.celery import app as celery_app
from salesmarketing.celery import broker_queue_keys
from tests.conftest import require_or_skip
from tests.leads.factories import LeadFactory

BIG_BATCHES = 5


def test_a_single_leads_scoring_runs_before_big_batches_queued_ahead_of_it(transactional_db, request):
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker for a real worker")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    keys = broker_queue_keys("realtime")
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
    assert queued == {
        "realtime": 1,
        "realtime\x06\x166": BIG_BATCHES,
        "realtime\x06\x163": 0,
        "realtime\x06\x169": 0,
    }

    request.getfixturevalue("celery_worker")  # one worker (solo pool): it takes one message at a time
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
