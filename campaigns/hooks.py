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
