"""What integrations registers at salesmarketing's hook points (integrations/apps.py)."""

from __future__ import annotations

from salesmarketing.celery import queue_task


def domain_events_emitted(*, event_ids: list[int]) -> None:
    """Committed events: fan them out on the integrations queue (the sweeper catches any the broker lost)."""
    queue_task("integrations.tasks.dispatch_events", event_ids)
