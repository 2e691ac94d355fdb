"""Finding what changed since the last sweep, and the full rebuild."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from campaigns.attribution.ledger import days_mark_dirty
from campaigns.attribution.sql import REBUILD_BATCH_SIZE, deal_models
from campaigns.models import AttributionCredit, AttributionDay, AttributionState, SegmentDay
from leads.models import Lead, Touch, Visitor

# --- Incremental sweep and full rebuild ---------------------------------------------------------------------


@dataclass
class SweepResult:
    lead_ids: list[int]
    rebuild: bool


SWEEP_OVERLAP = dt.timedelta(minutes=10)  # re-read a little: rows committed late still carry earlier times
REBUILD_EVERY = dt.timedelta(hours=23)


def attribution_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Find the leads whose attribution may have changed since the previous sweep: new touches (by id), new or
    updated leads (profile, MQL, handoff decisions), updated deals, newly identified visitors; and the days of
    new anonymous visitors. Moves the watermarks; the caller queues the work. The first sweep ever, and one a
    day after that, asks for a full rebuild instead."""
    now = now or timezone.now()
    with transaction.atomic():
        AttributionState.objects.get_or_create(pk=1)
        state = AttributionState.objects.select_for_update().get(pk=1)
        touch_hi = Touch.objects.aggregate(m=Max("id"))["m"] or 0
        visitor_hi = Visitor.objects.aggregate(m=Max("id"))["m"] or 0
        rebuild = state.swept_at is None or state.rebuilt_at is None or now - state.rebuilt_at > REBUILD_EVERY
        lead_ids: set[int] = set()
        if not rebuild:
            since = state.swept_at - SWEEP_OVERLAP
            lead_ids.update(
                Touch.objects.filter(id__gt=state.touch_id_done, id__lte=touch_hi, lead__isnull=False)
                .order_by()
                .values_list("lead_id", flat=True)
                .distinct()
            )
            lead_ids.update(
                Lead.objects.filter(Q(updated_at__gte=since) | Q(created_at__gte=since))
                .order_by()
                .values_list("id", flat=True)
            )
            for deals in deal_models():
                lead_ids.update(
                    deals.objects.filter(updated_at__gte=since, contact__isnull=False)
                    .order_by()
                    .values_list("contact_id", flat=True)
                )
            visitors = Visitor.objects.filter(id__gt=state.visitor_id_done, id__lte=visitor_hi).order_by()
            lead_ids.update(visitors.filter(lead__isnull=False).values_list("lead_id", flat=True).distinct())
            first_seen = visitors.filter(lead__isnull=True).aggregate(
                lo=Min("first_seen_at"), hi=Max("first_seen_at")
            )
            if first_seen["lo"] is not None:
                day = timezone.localdate(first_seen["lo"])
                last = timezone.localdate(first_seen["hi"])
                days_mark_dirty(day + dt.timedelta(days=i) for i in range((last - day).days + 1))
        state.touch_id_done, state.touch_id_seen = state.touch_id_seen, touch_hi
        state.visitor_id_done, state.visitor_id_seen = state.visitor_id_seen, visitor_hi
        if rebuild:
            state.touch_id_done, state.visitor_id_done = touch_hi, visitor_hi
            state.rebuilt_at = now
        state.swept_at = now
        state.save()
    return SweepResult(lead_ids=sorted(lead_ids), rebuild=rebuild)


def rebuild_ranges(batch_size: int = REBUILD_BATCH_SIZE) -> list[tuple[int, int]]:
    """Every lead, as id ranges; marks every day that has roll-ups dirty first, so days whose leads are gone
    are cleared too."""
    days_mark_dirty(AttributionDay.objects.values_list("date", flat=True).distinct())
    days_mark_dirty(SegmentDay.objects.values_list("date", flat=True).distinct())
    bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        AttributionCredit.objects.all().delete()
        return []
    return [
        (first, min(first + batch_size - 1, bounds["hi"]))
        for first in range(bounds["lo"], bounds["hi"] + 1, batch_size)
    ]
