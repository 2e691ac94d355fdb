"""Writes for campaigns. A new or changed UTM code links the touches that already carry it, in the background
(campaigns.tasks, which never imports the services: it calls attribution, personas and touches, below both)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns import tasks
from leads.models import Campaign, Persona
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
