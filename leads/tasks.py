"""Thin, idempotent tasks: they take ids, call a service, and running them twice changes nothing."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from leads.awareness import infer_awareness


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def process_touched_leads(lead_ids: list[int]) -> int:
    """Bring leads whose touches changed up to date: awareness stage, scores, and handoffs where due."""
    from leads.scoring.services import leads_score_and_qualify

    infer_awareness(lead_ids)
    return len(leads_score_and_qualify(lead_ids))


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def assign_handoffs(handoff_ids: list[int]) -> int:
    from leads.handoffs import handoff_assign

    for handoff_id in handoff_ids:
        handoff_assign(handoff_id=handoff_id)
    return len(handoff_ids)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def rescore_batch(batch_id: int) -> bool:
    from leads.scoring.services import rescore_batch_run

    return rescore_batch_run(batch_id=batch_id)


@shared_task(acks_late=True)
def rescore_all(reason: str = "scheduled") -> int:
    """Nightly: engagement decays with time, so every lead is rescored (in batches shared by the workers)."""
    from leads.scoring.services import rescore_start

    return rescore_start(reason=reason).pk


@shared_task(acks_late=True)
def sla_check() -> dict:
    from leads.handoffs import sla_check as run

    result = run()
    return {"reminded": result.reminded, "escalated": result.escalated, "reassigned": result.reassigned}


@shared_task(acks_late=True)
def sweep() -> dict:
    """Finish what a lost message left undone: rescore batches still pending after 10 minutes, and handoffs
    waiting for a rep."""
    from leads.models import Handoff, RescoreBatch

    stale = timezone.now() - dt.timedelta(minutes=10)
    batch_ids = list(
        RescoreBatch.objects.filter(done_at__isnull=True, queued_at__lt=stale).values_list("id", flat=True)[
            :500
        ]
    )
    for batch_id in batch_ids:
        rescore_batch.delay(batch_id)
    unassigned = list(
        Handoff.objects.filter(state=Handoff.State.UNASSIGNED, created_at__lt=stale).values_list(
            "id", flat=True
        )[:500]
    )
    if unassigned:
        assign_handoffs.delay(unassigned)
    return {"batches": len(batch_ids), "handoffs": len(unassigned)}
