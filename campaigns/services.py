"""Writes for campaigns, costs, personas and persona rules. Keyword-only, atomic; side effects after commit.

The background work they start (linking a new campaign's touches, matching every lead again) is queued through
campaigns.tasks, which never imports this module: the tasks call the lower modules (attribution, personas,
touches) directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns import tasks
from campaigns.attribution import REBUILD_BATCH_SIZE
from campaigns.models import CampaignCost, PersonaRule
from leads.models import Campaign, Lead, Persona
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
    tasks.link_campaign_touches.delay(campaign_id)


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
    bounds = Lead.objects.order_by("id").values_list("id", flat=True)
    first, last = bounds.first(), bounds.last()
    if first is None or last is None:
        return
    for start in range(first, last + 1, REBUILD_BATCH_SIZE):
        tasks.match_personas_range.delay(start, min(start + REBUILD_BATCH_SIZE - 1, last))
    tasks.refresh_rollups.delay()
