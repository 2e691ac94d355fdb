"""Lifecycle stages: the one write path. Every change of a lead's lifecycle stage goes through here and leaves a
LifecycleChange row (from, to, at, by, reason) — by hand on the lead page, and automatically: scoring (MQL),
handoffs (SQL → opportunity, recycled, disqualified, undo), pipeline's won and lost deals (customer, recycled),
a newsletter sign-up (subscriber). `by` None means the system did it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.choices import LifecycleStage
from leads.models import Company, Lead, LifecycleChange

# Where a lead goes back to nurture (the stage scoring may make an MQL again once it shows new behaviour).
NURTURE_STAGE = LifecycleStage.RECYCLED
REASON_MAX = LifecycleChange._meta.get_field("reason").max_length or 300


def lead_lifecycle_change(
    *,
    lead: Lead | int,
    to: str,
    by: Any = None,
    reason: Any = "",
    at: dt.datetime | None = None,
    only_from: Iterable[str] | None = None,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Move the lead to stage `to` and record it. Returns whether the stage changed.

    The lead row is locked, so the recorded `from` is the stage it really left. `only_from` limits the change to
    leads now in one of those stages (an automatic change never overrides a later one); `also` are more fields
    of the lead written in the same UPDATE (owner, recycled_at…), written unless `only_from` rules it out.
    A lazy `reason` (the system's words) is stored in the site's language, whoever's request ran this."""
    if to not in LifecycleStage.values:
        raise ValidationError({"stage": _("Choose a lifecycle stage.")})
    at = at or timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        reason = str(reason)
    lead_id = lead if isinstance(lead, int) else lead.pk
    with transaction.atomic():
        current = (
            Lead.objects.select_for_update().filter(pk=lead_id).values_list("lifecycle_stage", flat=True)
        )
        from_stage = current.first()
        if from_stage is None:
            raise Lead.DoesNotExist
        allowed = only_from is None or from_stage in set(only_from)
        changes: dict[str, Any] = dict(also or {}) if allowed else {}
        moved = allowed and from_stage != to
        if moved:
            changes["lifecycle_stage"] = to
        if changes:
            Lead.objects.filter(pk=lead_id).update(**changes, updated_at=at)
        if moved:
            LifecycleChange.objects.create(
                lead_id=lead_id, from_stage=from_stage, to_stage=to, at=at, by=by, reason=reason[:REASON_MAX]
            )
    if moved and isinstance(lead, Lead):
        lead.lifecycle_stage = to
    if allowed and isinstance(lead, Lead):
        for key, value in (also or {}).items():
            setattr(lead, key, value)
    return moved


def lead_lifecycle_set_by_hand(*, lead: Lead, to: str, by: Any, reason: str) -> bool:
    """A person changes the stage on the lead page: a reason is required."""
    errors = {}
    if to not in LifecycleStage.values:
        errors["stage"] = _("Choose a lifecycle stage.")
    elif to == lead.lifecycle_stage:
        errors["stage"] = _("The lead is already at this stage.")
    if not reason.strip():
        errors["reason"] = _("Say why the stage changes.")
    if errors:
        raise ValidationError(errors)
    return lead_lifecycle_change(lead=lead, to=to, by=by, reason=reason.strip())


def leads_lifecycle_recorded(
    *, changes: Mapping[int, str], to: str, at: dt.datetime, reason: str = "", by: Any = None
) -> None:
    """Record a set-based change someone already wrote with one UPDATE (scoring's MQL flip): `changes` maps each
    lead id to the stage it left. One INSERT whatever the number of leads."""
    LifecycleChange.objects.bulk_create(
        LifecycleChange(
            lead_id=lead_id, from_stage=from_stage, to_stage=to, at=at, by=by, reason=reason[:REASON_MAX]
        )
        for lead_id, from_stage in sorted(changes.items())
        if from_stage != to
    )


def deal_won_lifecycle(*, contact_id: int | None, company_id: int | None, by: Any = None, at=None) -> None:
    """A deal was won (pipeline's close service): its contact becomes a customer and so does its company."""
    at = at or timezone.now()
    if contact_id is not None:
        lead_lifecycle_change(
            lead=contact_id, to=LifecycleStage.CUSTOMER, by=by, at=at, reason=gettext_lazy("Deal won")
        )
    if company_id is not None:
        Company.objects.filter(pk=company_id, customer_since__isnull=True).update(
            customer_since=at, updated_at=at
        )


def deal_lost_lifecycle(*, contact_id: int | None, open_or_won_deals: int, by: Any = None, at=None) -> bool:
    """A deal was lost: a contact whose deals are now all lost goes back to nurture (recycled), from the stages a
    deal had put it in. `open_or_won_deals` is how many of the contact's deals are not lost (pipeline counts
    them: the deals are pipeline's). Returns whether the lead was recycled."""
    if contact_id is None or open_or_won_deals:
        return False
    at = at or timezone.now()
    return lead_lifecycle_change(
        lead=contact_id,
        to=NURTURE_STAGE,
        by=by,
        at=at,
        reason=gettext_lazy("All deals lost"),
        only_from=(LifecycleStage.SQL, LifecycleStage.OPPORTUNITY),
        also={"recycled_at": at},
    )
