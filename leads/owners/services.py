"""Writes for owner changes: keyword-only, atomic; the new owner hears of it after commit."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead, OwnerChange
from leads.owners.messages import OWNER_CHANGED
from salesmarketing.models import User
from salesmarketing.services import notification_send


def lead_owner_change(
    *, lead: Lead, owner: User | None, by: User, reason: str, now: dt.datetime | None = None
) -> OwnerChange | None:
    """Make `owner` (None: nobody) the lead's owner and log who changed it from whom, when and why.

    The reason is required. Choosing the current owner changes and logs nothing (None). The lead row is locked,
    so two changes at once are logged one after the other, each from the owner the other left. The new owner
    is notified unless they made the change themselves. Who may choose whom is the caller's check
    (leads.owners.selectors.lead_owner_choices)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the owner changes.")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("Keep the reason under 300 characters.")})
    now = now or timezone.now()
    with transaction.atomic():
        locked = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
        if locked.owner_id == (owner.pk if owner else None):
            return None
        change = OwnerChange.objects.create(
            lead=locked, from_owner=locked.owner, to_owner=owner, by=by, reason=reason, at=now
        )
        Lead.objects.filter(pk=locked.pk).update(owner=owner, updated_at=now)
        if owner is not None and owner.pk != by.pk:
            notification_send(
                recipient=owner,
                message=OWNER_CHANGED,
                params={"by": str(by), "lead": str(locked), "lead_id": locked.pk, "reason": reason},
                url=reverse("leads:detail", args=[locked.pk]),
            )
    lead.owner = owner
    return change
