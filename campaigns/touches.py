"""Linking touches to a campaign by its UTM code: the touches sent before the campaign existed (or before it got
that code), which campaigns.tasks.link_campaign_touches works through in batches."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce

from leads.models import Campaign, Lead, Touch


def campaign_link_touches(*, campaign_id: int, batch_size: int = 10_000) -> Iterator[tuple[int, list[int]]]:
    """Link touches whose UTM code is this campaign's and that have no campaign yet; leads without a
    first-touch campaign get one from their touches (the capture path's rule). Works in batches, each in its own
    transaction, and yields after each commits: (touches linked, ids of the leads they belong to). Idempotent: a
    second run finds nothing to link."""
    campaign = Campaign.objects.filter(pk=campaign_id).exclude(utm_campaign="").first()
    if campaign is None:
        return
    while True:
        with transaction.atomic():
            ids = list(
                Touch.objects.filter(utm_campaign=campaign.utm_campaign, campaign__isnull=True)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return
            Touch.objects.filter(id__in=ids).update(campaign=campaign)
            lead_ids = list(
                Touch.objects.filter(id__in=ids, lead__isnull=False)
                .order_by()
                .values_list("lead_id", flat=True)
                .distinct()
            )
            _first_touch_campaign_fill(lead_ids)
        yield len(ids), lead_ids


def _first_touch_campaign_fill(lead_ids: list[int]) -> None:
    """Leads without a first-touch campaign take the campaign of their earliest touch that has one."""
    Lead.objects.filter(id__in=lead_ids, first_touch_campaign__isnull=True).update(
        first_touch_campaign_id=Coalesce(
            "first_touch_campaign_id",
            Subquery(
                Touch.objects.filter(lead_id=OuterRef("pk"), campaign__isnull=False)
                .order_by("occurred_at", "id")
                .values("campaign_id")[:1]
            ),
        )
    )
