"""What campaigns does when the apps below it call (salesmarketing.hooks; registered in CampaignsConfig.ready())."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from campaigns.attribution import days_mark_dirty
from campaigns.models import AttributionCredit
from leads.models import Lead


def lead_erasing(
    *, lead: Lead, visitor_ids: list[str], mentions: list[str], scrub: Callable[[str], str], now: dt.datetime
) -> dict[str, int]:
    """LEAD_ERASING: the lead's attribution credits go; the days they were on are marked dirty, so the next sweep
    recomputes those days' roll-ups without them."""
    credits = AttributionCredit.objects.filter(lead=lead)
    days = set(credits.values_list("date", flat=True).distinct())
    deleted = credits.delete()[0]
    if days:
        days_mark_dirty(days)
    return {"attribution_credits": deleted}


def lead_merging(*, survivor: Lead, merged: Lead, by) -> dict[str, int]:
    """LEAD_MERGING: the merged lead's credits go (their days marked dirty); the survivor's ledger is rebuilt by
    the next sweep, which sees it updated, with the touches, handoffs and deals it now has."""
    credits = AttributionCredit.objects.filter(lead=merged)
    days = set(credits.values_list("date", flat=True).distinct())
    deleted = credits.delete()[0]
    if days:
        days_mark_dirty(days)
    return {"attribution_credits_dropped": deleted}
