"""Writes for campaigns, costs, personas and persona rules. Keyword-only, atomic; side effects after commit.

The seam other apps call when leads changed: `leads_changed(lead_ids=…)` (persona matching and attribution for
those leads, in the background).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from campaigns.attribution import REFRESH_BATCH_SIZE
from campaigns.models import CampaignCost, PersonaRule
from leads.models import Campaign, Lead, Persona, Touch
from salesmarketing.models import User

CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "objective",
    "status",
    "awareness_stage",
    "start_date",
    "end_date",
    "budget",
    "utm_campaign",
    "utm_source",
    "utm_medium",
    "description",
    "owner",
)


# --- The seam: leads changed ---------------------------------------------------------------------------------


def leads_changed(*, lead_ids: Iterable[int]) -> None:
    """After commit, bring these leads' persona and attribution up to date (batches of REFRESH_BATCH_SIZE).
    The sweep catches anything a lost message leaves behind."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), REFRESH_BATCH_SIZE):
        batch = ids[start : start + REFRESH_BATCH_SIZE]
        # a lambda, not functools.partial: Django logs a failed robust hook by its __qualname__
        transaction.on_commit(lambda batch=batch: _enqueue_refresh(batch), robust=True)


def _enqueue_refresh(lead_ids: list[int]) -> None:
    from campaigns.tasks import refresh_leads

    refresh_leads.delay(lead_ids)


# --- Campaigns -----------------------------------------------------------------------------------------------


def _check_campaign(campaign: Campaign) -> None:
    campaign.utm_campaign = campaign.utm_campaign.strip()
    campaign.full_clean(exclude=["personas"])
    if (
        campaign.utm_campaign
        and Campaign.objects.filter(utm_campaign=campaign.utm_campaign).exclude(pk=campaign.pk).exists()
    ):
        raise ValidationError({"utm_campaign": _("Another campaign already uses this UTM code.")})


def campaign_create(*, by: User, personas: Iterable[Persona] = (), **fields) -> Campaign:
    """Create a campaign. Touches that already carry its UTM code (sent before the campaign existed) are linked
    to it in the background."""
    campaign = Campaign(**{k: v for k, v in fields.items() if k in CAMPAIGN_FIELDS})
    if campaign.owner_id is None:
        campaign.owner = by
    _check_campaign(campaign)
    try:
        with transaction.atomic():
            campaign.save()
            campaign.personas.set(personas)
    except IntegrityError:  # a concurrent save took the UTM code a moment ago
        raise ValidationError({"utm_campaign": _("Another campaign already uses this UTM code.")}) from None
    if campaign.utm_campaign:
        transaction.on_commit(lambda: _enqueue_link(campaign.pk), robust=True)
    return campaign


def campaign_update(
    *, campaign: Campaign, by: User, personas: Iterable[Persona] | None = None, **fields
) -> Campaign:
    old_code = Campaign.objects.filter(pk=campaign.pk).values_list("utm_campaign", flat=True).first()
    for key, value in fields.items():
        if key in CAMPAIGN_FIELDS:
            setattr(campaign, key, value)
    _check_campaign(campaign)
    try:
        with transaction.atomic():
            campaign.save()
            if personas is not None:
                campaign.personas.set(personas)
    except IntegrityError:
        raise ValidationError({"utm_campaign": _("Another campaign already uses this UTM code.")}) from None
    if campaign.utm_campaign and campaign.utm_campaign != old_code:
        transaction.on_commit(lambda: _enqueue_link(campaign.pk), robust=True)
    return campaign


def _enqueue_link(campaign_id: int) -> None:
    from campaigns.tasks import link_campaign_touches

    link_campaign_touches.delay(campaign_id)


def campaign_link_touches(*, campaign_id: int, batch_size: int = 10_000) -> int:
    """Link touches whose UTM code is this campaign's and that have no campaign yet; leads without a
    first-touch campaign get one from their touches (the capture path's rule). Returns how many touches were
    linked. Idempotent: a second run finds nothing to link."""
    campaign = Campaign.objects.filter(pk=campaign_id).exclude(utm_campaign="").first()
    if campaign is None:
        return 0
    linked = 0
    while True:
        with transaction.atomic():
            ids = list(
                Touch.objects.filter(utm_campaign=campaign.utm_campaign, campaign__isnull=True)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            Touch.objects.filter(id__in=ids).update(campaign=campaign)
            lead_ids = list(
                Touch.objects.filter(id__in=ids, lead__isnull=False)
                .order_by()
                .values_list("lead_id", flat=True)
                .distinct()
            )
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
            leads_changed(lead_ids=lead_ids)
        linked += len(ids)
    return linked


# --- Costs ---------------------------------------------------------------------------------------------------


def cost_add(
    *, campaign: Campaign, date: dt.date, amount: Decimal, description: str = "", external_id: str = ""
) -> CampaignCost:
    if amount is None or amount < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    cost = CampaignCost(
        campaign=campaign,
        date=date,
        amount=Decimal(amount).quantize(Decimal(1)),
        description=description.strip(),
        external_id=external_id.strip(),
    )
    cost.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            cost.save()
    except IntegrityError:
        raise ValidationError({"external_id": _("This cost line was already recorded.")}) from None
    return cost


def cost_delete(*, cost: CampaignCost) -> None:
    CampaignCost.objects.filter(pk=cost.pk).delete()


# --- Personas and their rules --------------------------------------------------------------------------------


def persona_save(*, persona: Persona) -> Persona:
    persona.full_clean()
    persona.save()
    return persona


def rule_save(*, rule: PersonaRule) -> PersonaRule:
    """Create or change a matching rule; every lead is matched again in the background."""
    rule.full_clean()
    if not rule.describe():
        raise ValidationError(_("Fill in at least one condition."))
    with transaction.atomic():
        rule.save()
        personas_rematch_all()
    return rule


def rule_delete(*, rule: PersonaRule) -> None:
    with transaction.atomic():
        PersonaRule.objects.filter(pk=rule.pk).delete()
        personas_rematch_all()


def personas_rematch_all() -> None:
    """After commit, match every lead again in id-range batches that several workers share."""
    transaction.on_commit(_enqueue_rematch, robust=True)


def _enqueue_rematch() -> None:
    from campaigns.attribution import REBUILD_BATCH_SIZE
    from campaigns.tasks import match_personas_range, refresh_rollups

    bounds = Lead.objects.order_by("id").values_list("id", flat=True)
    first, last = bounds.first(), bounds.last()
    if first is None:
        return
    for start in range(first, last + 1, REBUILD_BATCH_SIZE):
        match_personas_range.delay(start, min(start + REBUILD_BATCH_SIZE - 1, last))
    refresh_rollups.delay()
