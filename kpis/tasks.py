"""Beat's KPI work: freeze the weekly snapshots once a week is over, keep the dashboards' trends cached."""

from __future__ import annotations

from celery import shared_task

from kpis.selectors import dashboards_refresh
from kpis.services import day_marks_fold, snapshots_freeze_due, visitor_counts_compact


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def freeze_weekly_snapshots(weeks_back: int = 4) -> int:
    """Monday 00:05 Asia/Tokyo: freeze the week that just ended, for everyone and per team, and catch up on any
    of the last `weeks_back` weeks a stopped beat missed. A second run makes nothing."""
    return snapshots_freeze_due(weeks_back=weeks_back)


@shared_task(acks_late=True)
def refresh_dashboards() -> int:
    """Every 10 minutes: fold the visitor counts, then fill the cache with the closed periods of every dashboard
    trend (each period kind, everyone and each team) that a write changed or that expired, so no viewer waits for
    them. Correctness does not depend on it: a read after a write recomputes what the write changed."""
    visitor_counts_compact()
    return dashboards_refresh()


@shared_task(acks_late=True, ignore_result=True)
def fold_day_marks() -> int:
    """Every minute: fold the KPI day marks into one row per day, so the cache keys stay quick to read."""
    return day_marks_fold()
