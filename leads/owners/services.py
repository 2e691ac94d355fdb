"""Writes for owner changes: keyword-only, atomic; the new owner hears of it after commit."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Company, Lead, OwnerChange
from leads.owners.messages import COMPANY_OWNER_CHANGED, OWNER_CHANGED
from salesmarketing.models import User
from salesmarketing.services import notification_send


def owner_change(
    *,
    record: Lead | Company,
    owner: User | None,
    by: User | None,
    reason: str,
    now: dt.datetime | None = None,
) -> OwnerChange | None:
    """Make `owner` (None: nobody) the owner of a lead or a company and log who changed it from whom, when, why.

    The reason is required. Choosing the current owner changes and logs nothing (None). The record's row is
    locked, so two changes at once are logged one after the other, each from the owner the other left. The new
    owner is notified unless they made the change themselves. `by` is None for an integration's API key. Who
    may choose whom is the caller's check (leads.owners.selectors.owner_choices)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the owner changes.")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("Keep the reason under 300 characters.")})
    now = now or timezone.now()
    model = type(record)
    kind = "lead" if model is Lead else "company"
    with transaction.atomic():
        locked = model.objects.select_for_update(of=("self",)).select_related("owner").get(pk=record.pk)
        if locked.owner_id == (owner.pk if owner else None):
            return None
        change = OwnerChange.objects.create(
            **{kind: locked}, from_owner=locked.owner, to_owner=owner, by=by, reason=reason, at=now
        )
        model.objects.filter(pk=locked.pk).update(owner=owner, updated_at=now)
        if owner is not None and owner != by:
            notification_send(
                recipient=owner,
                message=OWNER_CHANGED if kind == "lead" else COMPANY_OWNER_CHANGED,
                params={"by": str(by or "API"), kind: str(locked), f"{kind}_id": locked.pk, "reason": reason},
                url=locked.get_absolute_url(),
            )
    record.owner = owner
    return change
