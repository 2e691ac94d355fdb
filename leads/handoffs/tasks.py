"""The handoff feature's tasks: thin and idempotent, they take ids and call leads.handoffs.services.

Their names stay "leads.tasks.…" (the names CELERY_TASK_ROUTES, the beat schedule and any message already queued
use); leads/tasks.py imports this module, so the worker's autodiscovery registers them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import Task, shared_task, signals
from django.utils import timezone

from leads.bulk import STEPS_BACK_FROM_LOCKS, not_waiting_on_bulk_locks
from leads.handoffs.services import handoff_assign
from leads.handoffs.services import sla_check as handoffs_sla_check
from leads.handoffs.sla import is_japanese_holiday
from leads.models import Handoff


@signals.worker_init.connect
def _warm_holiday_calendar(**kwargs: Any) -> None:
    """The Japanese calendar is built on its first look-up of a year (~0.3 s): at worker start (inherited by a
    pool's processes), not inside a hot lead's first assignment."""
    year = timezone.localdate().year
    for warm in (year, year + 1):
        is_japanese_holiday(dt.date(warm, 1, 1))


@shared_task(name="leads.tasks.assign_handoffs", **STEPS_BACK_FROM_LOCKS)
def assign_handoffs(self: Task, handoff_ids: list[int]) -> int:
    with not_waiting_on_bulk_locks(self):
        for handoff_id in handoff_ids:
            try:
                handoff_assign(handoff_id=handoff_id)
            except Handoff.DoesNotExist:
                continue  # gone since it was queued (its lead erased): nobody to assign
    return len(handoff_ids)


@shared_task(name="leads.tasks.sla_check", acks_late=True)
def sla_check() -> dict:
    result = handoffs_sla_check()
    return {"reminded": result.reminded, "escalated": result.escalated, "reassigned": result.reassigned}
