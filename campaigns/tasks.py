"""Thin, idempotent tasks: they take ids, call the work below them, and running them twice changes nothing.

Beat runs `attribution_sweep` every few minutes (settings.CELERY_BEAT_SCHEDULE); it queues `refresh_leads` for
the leads that changed and, once a day, a full rebuild in id-range batches. The services queue these tasks; the
tasks never import the services back (they call attribution, personas and touches, which sit below both).
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task
from django.db import transaction

from campaigns.attribution import (
    REFRESH_BATCH_SIZE,
    LeadSelection,
    attribution_refresh,
    rebuild_ranges,
    rollups_refresh,
    score_bands_refresh,
)
from campaigns.attribution import attribution_sweep as sweep
from campaigns.personas import personas_match
from campaigns.touches import campaign_link_touches

RETRY = {"acks_late": True, "autoretry_for": (Exception,), "retry_backoff": True, "max_retries": 5}


def leads_changed(*, lead_ids: Iterable[int]) -> None:
    """After commit, bring these leads' persona and attribution up to date (batches of REFRESH_BATCH_SIZE).
    The sweep catches anything a lost message leaves behind."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), REFRESH_BATCH_SIZE):
        batch = ids[start : start + REFRESH_BATCH_SIZE]
        # a lambda, not functools.partial: Django logs a failed robust hook by its __qualname__
        transaction.on_commit(lambda batch=batch: refresh_leads.delay(batch), robust=True)


@shared_task(**RETRY, soft_time_limit=240, time_limit=300)
def refresh_leads(lead_ids: list[int]) -> int:
    """Persona and attribution of a batch of changed leads, then the roll-ups of the days concerned."""
    selection = LeadSelection(ids=tuple(sorted(set(lead_ids))))
    personas_match(selection=selection)
    attribution_refresh(selection=selection)
    return rollups_refresh()


@shared_task(**RETRY, soft_time_limit=240, time_limit=300)
def refresh_lead_range(first_id: int, last_id: int) -> int:
    """One batch of the daily rebuild (roll-ups follow in `refresh_rollups`, queued by the sweep)."""
    selection = LeadSelection(first_id=first_id, last_id=last_id)
    personas_match(selection=selection)
    return len(attribution_refresh(selection=selection, rebuild=True))


@shared_task(**RETRY, soft_time_limit=240, time_limit=300)
def match_personas(lead_ids: list[int]) -> int:
    return personas_match(selection=LeadSelection(ids=tuple(sorted(set(lead_ids)))))


@shared_task(**RETRY, soft_time_limit=240, time_limit=300)
def match_personas_range(first_id: int, last_id: int) -> int:
    return personas_match(selection=LeadSelection(first_id=first_id, last_id=last_id))


@shared_task(**RETRY, soft_time_limit=540, time_limit=600)
def refresh_rollups() -> int:
    return rollups_refresh()


@shared_task(**RETRY, soft_time_limit=540, time_limit=600)
def link_campaign_touches(campaign_id: int) -> int:
    """Link the touches carrying a campaign's UTM code to it; their leads' persona and attribution follow."""
    linked = 0
    for touches, lead_ids in campaign_link_touches(campaign_id=campaign_id):
        leads_changed(lead_ids=lead_ids)
        linked += touches
    return linked


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def attribution_sweep() -> dict:
    """Beat: queue the leads that changed since the last sweep (or, daily, everyone), then the roll-ups."""
    result = sweep()
    score_bands_refresh()
    with transaction.atomic():
        ranges = rebuild_ranges() if result.rebuild else []
        for first_id, last_id in ranges:
            transaction.on_commit(lambda a=first_id, b=last_id: refresh_lead_range.delay(a, b), robust=True)
        ids = result.lead_ids
        for start in range(0, len(ids), REFRESH_BATCH_SIZE):
            batch = ids[start : start + REFRESH_BATCH_SIZE]
            transaction.on_commit(lambda b=batch: refresh_leads.delay(b), robust=True)
        transaction.on_commit(refresh_rollups.delay, robust=True)
    return {"leads": len(ids), "rebuild_batches": len(ranges)}
