"""Thin, idempotent tasks: they take ids, call a service, and running them twice changes nothing.

Nobody reads the results of the tasks sent while handling a request (ignore_result): sending them then needs
the broker only, not the result backend's subscription, which would hold the request while Redis is down.
"""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from leads.awareness import infer_awareness
from leads.bulk import STEPS_BACK_FROM_LOCKS, not_waiting_on_bulk_locks
from leads.bulk_actions.services import bulk_jobs_resume_stalled
from leads.handoffs.services import handoffs_assign_waiting
from leads.handoffs.tasks import assign_handoffs, sla_check
from leads.models import Handoff, Lead, RescoreBatch, Touch
from leads.scoring.services import ASSIGN_BATCH, leads_score_and_qualify, rescore_batch_run, rescore_start
from leads.services import BATCH_LANE, TOUCHED_BATCH, lane

# The handoff feature's tasks live in leads/handoffs/tasks.py under their old names ("leads.tasks.…", which the
# routes, beat and messages already queued use); importing them here is what registers them with the worker.
__all__ = ["assign_handoffs", "process_touched_leads", "rescore_all", "rescore_batch", "sla_check", "sweep"]


@shared_task(**STEPS_BACK_FROM_LOCKS)
def process_touched_leads(self: Task, lead_ids: list[int]) -> int:
    """Bring leads whose touches changed up to date: awareness stage, scores, and handoffs where due. A single
    capture's handoff is assigned here, once scoring has committed, not queued for another realtime task: a hot
    lead's rep is not kept waiting for a second trip through the broker. A batch's are queued in its lane."""
    single_capture = not lane(len(lead_ids))
    with not_waiting_on_bulk_locks(self):
        infer_awareness(lead_ids)
        created = leads_score_and_qualify(lead_ids, queue_assignment=not single_capture)
        if single_capture:
            handoffs_assign_waiting(lead_ids=lead_ids)
        return len(created)


@shared_task(
    acks_late=True, ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5
)
def rescore_batch(batch_id: int) -> bool:
    return rescore_batch_run(batch_id=batch_id)


@shared_task(acks_late=True)
def rescore_all(reason: str = "scheduled") -> int:
    """Nightly: engagement decays with time, so every lead is rescored (in batches shared by the workers)."""
    return rescore_start(reason=reason).pk


SWEEP_LIMIT = 500  # rescore batches, and handoffs, re-queued per run
SWEEP_LEADS_LIMIT = 5_000  # leads with unscored touches re-queued per run (in tasks of TOUCHED_BATCH)


@shared_task(acks_late=True)
def sweep() -> dict:
    """Finish from the database what a lost message left undone: rescore batches still pending, handoffs
    waiting for a rep, and leads whose touches were stored after they were last scored (the broker was down
    when they arrived, or the worker died), and the lead list's bulk jobs that stopped moving (resumed from their
    cursor). Only work older than SWEEP_STALE_SECONDS, so queued messages get
    their turn first; each run is bounded, and every task it sends is idempotent, so meeting a redelivered
    message is harmless."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    batch_ids = list(
        RescoreBatch.objects.filter(done_at__isnull=True, queued_at__lt=stale)
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for batch_id in batch_ids:
        rescore_batch.delay(batch_id)
    unassigned = list(
        Handoff.objects.filter(state=Handoff.State.UNASSIGNED, created_at__lt=stale)
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for start in range(0, len(unassigned), ASSIGN_BATCH):  # catch-up is batch work: never in a hot lead's way
        assign_handoffs.apply_async((unassigned[start : start + ASSIGN_BATCH],), **BATCH_LANE)
    lead_ids = leads_with_unscored_touches(
        since=now - dt.timedelta(hours=settings.SWEEP_LOOKBACK_HOURS), before=stale, limit=SWEEP_LEADS_LIMIT
    )
    for start in range(0, len(lead_ids), TOUCHED_BATCH):
        # Catch-up is batch work: in the batch lane, as leads_touched queues a bulk ingest's.
        process_touched_leads.apply_async((lead_ids[start : start + TOUCHED_BATCH],), **BATCH_LANE)
    bulk_jobs = bulk_jobs_resume_stalled(now=now)
    return {
        "batches": len(batch_ids),
        "handoffs": len(unassigned),
        "leads": len(lead_ids),
        "bulk_jobs": len(bulk_jobs),
    }


def leads_with_unscored_touches(*, since: dt.datetime, before: dt.datetime, limit: int) -> list[int]:
    """Ids of leads with a touch stored in [since, before) after the lead was last scored, or created in that
    window and never scored. Reads touches by their received time (a BRIN index on PostgreSQL, migration
    leads 0007) and leads by theirs, so a run costs the window, not the table."""
    touched = (
        Touch.objects.filter(lead__isnull=False, created_at__gte=since, created_at__lt=before)
        .filter(Q(lead__scored_at__isnull=True) | Q(lead__scored_at__lt=F("created_at")))
        .order_by("lead_id")
        .values_list("lead_id", flat=True)
        .distinct()[:limit]
    )
    ids = set(touched)
    if len(ids) < limit:
        ids.update(
            Lead.objects.filter(scored_at__isnull=True, created_at__gte=since, created_at__lt=before)
            .order_by("id")
            .values_list("id", flat=True)[: limit - len(ids)]
        )
    return sorted(ids)
