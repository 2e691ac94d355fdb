"""Writes for a campaign's cost lines entered by hand (the CSV import, campaigns.costs_import, writes its own batches)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns.models import CampaignCost
from leads.models import Campaign


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
    # The unique external id is left to the database, whose refusal names the field below (full_clean would
    # report the constraint by its name, for no field).
    cost.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            cost.save()
    except IntegrityError:
        raise ValidationError({"external_id": _("This cost line was already recorded.")}) from None
    return cost


def cost_delete(*, cost: CampaignCost) -> None:
    CampaignCost.objects.filter(pk=cost.pk).delete()
