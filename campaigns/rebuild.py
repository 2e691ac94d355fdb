"""The full rebuild in this process: persona matching and attribution for every lead, then the roll-ups.

It sits above both campaigns.attribution and campaigns.personas (persona matching marks attribution's days dirty,
so personas imports attribution; the rebuild runs both), which keeps the two free of an import cycle.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from campaigns.attribution import (
    REBUILD_BATCH_SIZE,
    LeadSelection,
    attribution_refresh,
    rebuild_ranges,
    rollups_refresh,
    score_bands_refresh,
)
from campaigns.models import AttributionState
from campaigns.personas import personas_match
from leads.models import Lead


def attribution_rebuild_now(workers: int = 1) -> int:
    """Recompute everything in this process (management command, demo, benchmark): the leads in `workers` id
    ranges at once (threads, each with its own connection, as that many Celery workers would), each range in
    one statement, then the roll-ups once. Returns the number of days rolled up."""

    def refresh(bounds: tuple[int, int]) -> None:
        selection = LeadSelection(first_id=bounds[0], last_id=bounds[1])
        try:
            personas_match(selection=selection)
            attribution_refresh(selection=selection, rebuild=True)
        finally:
            if workers > 1:
                connection.close()

    span = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    size = -(-(span["hi"] - span["lo"] + 1) // workers) if span["lo"] is not None else REBUILD_BATCH_SIZE
    ranges = rebuild_ranges(batch_size=size)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(refresh, ranges))
    else:
        for bounds in ranges:
            refresh(bounds)
    AttributionState.objects.update_or_create(pk=1, defaults={"rebuilt_at": timezone.now()})
    score_bands_refresh()
    return rollups_refresh()
