"""Merging two leads or two companies into one, and dismissing a pair that is not a duplicate.

A merge runs in one transaction that locks both rows in id order first (two merges of the same pair, either way
round, queue behind each other; the second finds a tombstone and stops). Every row that points at the merged
record moves to the survivor: leads' own tables here, higher apps' through the LEAD_MERGING / COMPANY_MERGING
hooks (salesmarketing.hooks). The merged record stays as a tombstone (`merged_into`) that its old URL and API id
redirect from; `Lead.objects` and `Company.objects` never return it, so no list, count, KPI or score sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from leads.lifecycle import leads_lifecycle_recorded
from leads.models import (
    Company,
    DuplicateDismissal,
    Handoff,
    Lead,
    LifecycleChange,
    MergeRecord,
    OwnerChange,
    RecordKind,
    Touch,
    Visitor,
)
from leads.services import leads_touched
from salesmarketing import hooks

SURVIVOR, MERGED = "survivor", "merged"
# Audit reasons, stored in the site's language (as the scorer's are)
MERGED_INTO = gettext_noop("Merged into lead %(id)s")
MERGED_WITH = gettext_noop("Merged with lead %(id)s")
COMPANY_MERGED_WITH = gettext_noop("Merged with company %(id)s")

# What a person picks per field on the merge screen (a group moves together: consent and its proof).
LEAD_CHOICES: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "name_kana": ("name_kana",),
    "email": ("email",),
    "phone": ("phone",),
    "company": ("company",),
    "department": ("department",),
    "title": ("title",),
    "owner": ("owner",),
    "persona": ("persona", "persona_set_by_hand"),
    "lifecycle_stage": ("lifecycle_stage",),
    "consent": ("consent_email", "consent_method", "consent_at", "consent_wording"),
}
COMPANY_CHOICES: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "name_kana": ("name_kana",),
    "domain": ("domain",),
    "corporate_number": ("corporate_number",),
    "industry": ("industry",),
    "employee_count": ("employee_count",),
    "prefecture": ("prefecture", "region"),
    "address": ("address",),
    "website": ("website",),
    "parent": ("parent",),
    "owner": ("owner",),
}


def _reason(text: str, **params: Any) -> str:
    """An audit reason in the site's language (the history rows store text, as the scorer's do)."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(text) % params


def _lock_pair(model, first_id: int, second_id: int) -> tuple[Any, Any]:
    if first_id == second_id:
        raise ValidationError(_("A record cannot be merged with itself."), code="same")
    rows = {
        row.pk: row
        for row in model.all_objects.select_for_update().filter(pk__in=[first_id, second_id]).order_by("pk")
    }
    first, second = rows.get(first_id), rows.get(second_id)
    if first is None or second is None or first.merged_into_id or second.merged_into_id:
        raise ValidationError(_("One of these records was merged or removed meanwhile."), code="merged")
    return first, second


def _taken(choices: Mapping[str, tuple[str, ...]], taken: Mapping[str, str]) -> dict[str, str]:
    return {name: MERGED if taken.get(name) == MERGED else SURVIVOR for name in choices}


def default_choices(survivor, merged, choices: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The merge screen's starting point: the survivor's value, unless it has none and the other has one."""
    return {
        name: MERGED
        if not getattr(survivor, fields[0]) and getattr(merged, fields[0]) not in (None, "", False)
        else SURVIVOR
        for name, fields in choices.items()
    }


# --- Leads ----------------------------------------------------------------------------------------------------


def lead_merge(*, survivor_id: int, merged_id: int, taken: Mapping[str, str], by: Any) -> Lead:
    """Merge lead `merged_id` into `survivor_id`, the survivor keeping for each LEAD_CHOICES field the value of
    the side `taken` names (its own by default). Raises ValidationError (code "merged") when either was merged
    meanwhile: the caller answers 409."""
    with transaction.atomic():
        survivor, merged = _lock_pair(Lead, survivor_id, merged_id)
        now = timezone.now()
        chosen = _taken(LEAD_CHOICES, taken)
        moved = _lead_rows_move(survivor=survivor, merged=merged, by=by, now=now)
        for counts in hooks.call(hooks.LEAD_MERGING, survivor=survivor, merged=merged, by=by):
            moved.update(counts or {})
        _lead_fields_take(survivor=survivor, merged=merged, chosen=chosen, by=by, now=now)
        Lead.all_objects.filter(merged_into=merged).update(
            merged_into=survivor
        )  # earlier tombstones: one hop
        MergeRecord.objects.filter(lead=merged).update(lead=survivor)  # its merge history follows it
        MergeRecord.objects.create(
            kind=RecordKind.LEAD,
            lead=survivor,
            merged_lead=merged,
            by=by,
            at=now,
            fields_taken=chosen,
            moved=moved,
        )
        leads_touched([survivor.pk])  # scores, awareness and handoffs from the touches it now has
    return survivor


def _lead_rows_move(*, survivor: Lead, merged: Lead, by: Any, now) -> dict[str, int]:
    """leads' own rows of the merged lead go to the survivor. Both may have an open handoff, and a lead has at
    most one: the merged lead's is closed as a duplicate first."""
    duplicate_open = Handoff.objects.filter(lead=merged, state__in=Handoff.OPEN_STATES)
    closed = 0
    if Handoff.objects.filter(lead=survivor, state__in=Handoff.OPEN_STATES).exists():
        closed = duplicate_open.update(
            state=Handoff.State.REJECTED,
            reject_reason=Handoff.RejectReason.DUPLICATE,
            reject_note=_reason(MERGED_INTO, id=survivor.pk),
            decided_at=now,
            decided_by=by,
        )
    return {
        "touches": Touch.objects.filter(lead=merged).update(lead=survivor),
        "visitors": Visitor.objects.filter(lead=merged).update(lead=survivor),
        "handoffs": Handoff.objects.filter(lead=merged).update(lead=survivor, updated_at=now),
        "handoffs_closed_as_duplicate": closed,
        "lifecycle_changes": LifecycleChange.objects.filter(lead=merged).update(lead=survivor),
        "owner_changes": OwnerChange.objects.filter(lead=merged).update(lead=survivor),
    }


def _lead_fields_take(*, survivor: Lead, merged: Lead, chosen: dict[str, str], by: Any, now) -> None:
    old_owner, old_stage, old_email = survivor.owner_id, survivor.lifecycle_stage, survivor.email
    for name, fields in LEAD_CHOICES.items():
        if chosen[name] == MERGED:
            for field in fields:
                setattr(survivor, field, getattr(merged, field))
    # What is not picked follows the facts: the person was first seen when the earlier record was made, and an
    # opt-out on either address holds for the person (only they undo it).
    if merged.created_at < survivor.created_at:
        survivor.created_at, survivor.source = merged.created_at, merged.source
        survivor.first_touch_campaign_id = merged.first_touch_campaign_id or survivor.first_touch_campaign_id
    survivor.first_touch_campaign_id = survivor.first_touch_campaign_id or merged.first_touch_campaign_id
    survivor.mql_at = min(filter(None, (survivor.mql_at, merged.mql_at)), default=None)
    survivor.last_touch_at = max(filter(None, (survivor.last_touch_at, merged.last_touch_at)), default=None)
    survivor.recycled_at = survivor.recycled_at or merged.recycled_at
    # Custom values: the survivor's stay; the keys only the merged lead has a value for come along.
    survivor.custom = {**(merged.custom or {}), **(survivor.custom or {})}
    unsubscribed = max(filter(None, (survivor.unsubscribed_at, merged.unsubscribed_at)), default=None)
    if unsubscribed is not None:
        survivor.unsubscribed_at, survivor.consent_email = unsubscribed, False
    if survivor.email != old_email:  # a bounce belongs to the address: it follows the one kept
        survivor.email_undeliverable_at = merged.email_undeliverable_at
    # The tombstone keeps the address the survivor did not take (capture resolves either to the survivor); the
    # unique address index is met by parking the merged lead's while the survivor takes it.
    tombstone_email = old_email if survivor.email != old_email else merged.email
    Lead.all_objects.filter(pk=merged.pk).update(email=f"merging-{merged.pk}@invalid")
    try:
        survivor.save()
    except IntegrityError as exc:  # the address was taken by another lead meanwhile
        raise ValidationError({"email": _("A lead with this email already exists.")}) from exc
    Lead.all_objects.filter(pk=merged.pk).update(
        email=tombstone_email,
        merged_into=survivor,
        merged_at=now,
        consent_email=False,
        fit_score=0,
        engagement_score=0,
        total_score=0,
        updated_at=now,
    )
    if survivor.owner_id != old_owner:
        OwnerChange.objects.create(
            lead=survivor,
            from_owner_id=old_owner,
            to_owner_id=survivor.owner_id,
            by=by,
            at=now,
            reason=_reason(MERGED_WITH, id=merged.pk),
        )
    if survivor.lifecycle_stage != old_stage:
        leads_lifecycle_recorded(
            changes={survivor.pk: old_stage},
            to=survivor.lifecycle_stage,
            at=now,
            by=by,
            reason=_reason(MERGED_WITH, id=merged.pk),
        )


# --- Companies ------------------------------------------------------------------------------------------------


def company_merge(*, survivor_id: int, merged_id: int, taken: Mapping[str, str], by: Any) -> Company:
    """Merge company `merged_id` into `survivor_id`: its leads, subsidiaries, deals (COMPANY_MERGING) and owner
    log move; each COMPANY_CHOICES field keeps the side `taken` names. ValidationError (code "merged") when
    either was merged meanwhile."""
    with transaction.atomic():
        survivor, merged = _lock_pair(Company, survivor_id, merged_id)
        now = timezone.now()
        chosen = _taken(COMPANY_CHOICES, taken)
        old_owner = survivor.owner_id
        lead_ids = list(Lead.objects.filter(company=merged).values_list("pk", flat=True))
        moved = {
            "leads": Lead.all_objects.filter(company=merged).update(company=survivor, updated_at=now),
            "subsidiaries": Company.all_objects.filter(parent=merged)
            .exclude(pk=survivor.pk)
            .update(parent=survivor),
            "owner_changes": OwnerChange.objects.filter(company=merged).update(company=survivor),
        }
        for counts in hooks.call(hooks.COMPANY_MERGING, survivor=survivor, merged=merged, by=by):
            moved.update(counts or {})
        for name, fields in COMPANY_CHOICES.items():
            if chosen[name] == MERGED:
                for field in fields:
                    setattr(survivor, field, getattr(merged, field))
        if survivor.parent_id in (
            merged.pk,
            survivor.pk,
        ):  # it was the merged one's subsidiary, or vice versa
            survivor.parent_id = merged.parent_id if merged.parent_id != survivor.pk else None
        survivor.customer_since = min(
            filter(None, (survivor.customer_since, merged.customer_since)), default=None
        )
        survivor.custom = {**(merged.custom or {}), **(survivor.custom or {})}  # as for leads
        # Domain and 法人番号 are unique: the tombstone gives its up before the survivor may take them.
        Company.all_objects.filter(pk=merged.pk).update(
            domain="", corporate_number="", parent=None, merged_into=survivor, merged_at=now, updated_at=now
        )
        survivor.save()
        if survivor.owner_id != old_owner:  # the merged company's owner taken: logged as a change of owner
            OwnerChange.objects.create(
                company=survivor,
                from_owner_id=old_owner,
                to_owner_id=survivor.owner_id,
                by=by,
                at=now,
                reason=_reason(COMPANY_MERGED_WITH, id=merged.pk),
            )
        Company.all_objects.filter(merged_into=merged).update(merged_into=survivor)
        MergeRecord.objects.filter(company=merged).update(company=survivor)
        MergeRecord.objects.create(
            kind=RecordKind.COMPANY,
            company=survivor,
            merged_company=merged,
            by=by,
            at=now,
            fields_taken=chosen,
            moved=moved,
        )
        leads_touched(lead_ids)  # the fit score reads the company
    return survivor


# --- Not a duplicate ------------------------------------------------------------------------------------------


def duplicate_dismiss(*, kind: str, first_id: int, second_id: int, by: Any) -> DuplicateDismissal:
    """'Not a duplicate': the pair leaves the queue for good. Idempotent."""
    low, high = sorted((int(first_id), int(second_id)))
    if low == high or kind not in RecordKind.values:
        raise ValidationError(_("Not a pair of records."), code="invalid")
    dismissal, _created = DuplicateDismissal.objects.get_or_create(
        kind=kind, low_id=low, high_id=high, defaults={"by": by}
    )
    return dismissal
