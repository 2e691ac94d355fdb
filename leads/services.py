"""Writes for companies and leads shared by every capture path (API, form, tracking, import, UI)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from leads.choices import TouchType
from leads.models import Company, Lead, Touch
from salesmarketing import events, hooks
from salesmarketing.celery import queue_task
from salesmarketing.events import event_emit

logger = logging.getLogger(__name__)

# What an unauthenticated capture (public form, tracking, pixel) sent for its lead is kept on its touch under
# SUBMITTED_KEY (leads.ingest.store): it only fills empty fields, and a person accepts the rest here.
SUBMITTED_KEY = "submitted"
SUBMITTED_FIELDS = ("name", "name_kana", "title", "department", "phone", "company", "company_domain")
ACCEPTABLE_FIELDS = ("name", "name_kana", "title", "department", "phone", "company")

# Fields an upsert may set; an empty value never overwrites a known one.
LEAD_FIELDS = ("name", "name_kana", "title", "department", "phone", "consent_email")
COMPANY_FIELDS = ("industry", "employee_count", "region", "prefecture", "website")


def lead_created_payload(lead_id: int, source: str) -> dict[str, object]:
    """The `lead.created` event's payload, the same from every path that creates leads (no personal data)."""
    return {"lead_id": lead_id, "source": source}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def company_resolve(*, name: str = "", domain: str = "", **fields) -> Company | None:
    """The company with this domain (or, without one, this exact name), created when missing. `fields` fill the
    blanks of a found one (COMPANY_FIELDS only) and all of a new one: an `owner` given is a new company's only."""
    name, domain = name.strip(), domain.strip().lower()
    if not name and not domain:
        return None
    existing = (
        Company.objects.filter(domain__iexact=domain).first()
        if domain
        else Company.all_objects.filter(name=name).order_by("merged_into", "pk").first()
    )
    if existing is not None and existing.merged_into_id is not None:  # a merged company's name: its survivor
        existing = Company.objects.get(pk=existing.merged_into_id)
    if existing is None:
        try:
            with transaction.atomic():
                existing = Company.objects.create(
                    name=name or domain,
                    domain=domain,
                    **{k: v for k, v in fields.items() if v not in (None, "")},
                )
                return existing
        except IntegrityError:  # another request created it a moment ago
            existing = Company.objects.get(domain__iexact=domain)
    updates = {
        k: v
        for k, v in fields.items()
        if k in COMPANY_FIELDS and v not in (None, "") and not getattr(existing, k)
    }
    if updates:
        Company.objects.filter(pk=existing.pk).update(**updates, updated_at=timezone.now())
        for key, value in updates.items():
            setattr(existing, key, value)
    return existing


def lead_upsert(*, email: str, source: str, company: Company | None = None, **fields) -> tuple[Lead, bool]:
    """Create the lead with this email (case-insensitive) or fill in what it lacks. Returns (lead, created).

    Known values are only replaced by non-empty ones, so a sparse event never erases a profile.
    Safe under concurrency: a duplicate create loses the race cleanly and updates the winner instead.
    """
    email = normalize_email(email)
    values = {k: v for k, v in fields.items() if k in LEAD_FIELDS and v not in (None, "")}
    lead = Lead.all_objects.filter(email__iexact=email).first()
    if lead is None:
        try:
            with transaction.atomic():
                lead = Lead.objects.create(email=email, source=source, company=company, **values)
                event_emit(
                    kind=events.LEAD_CREATED,
                    subject=("lead", lead.pk),
                    payload=lead_created_payload(lead.pk, source),
                )
                return lead, True
        except IntegrityError:
            lead = Lead.all_objects.get(email__iexact=email)
    if lead.merged_into_id is not None:  # the address of a merged lead (leads.merge) is its survivor's
        lead = Lead.objects.get(pk=lead.merged_into_id)
    if lead.unsubscribed_at is not None:
        values.pop("consent_email", None)  # an unsubscribe is never undone by a later capture
    changed = {k: v for k, v in values.items() if getattr(lead, k) != v}
    if company is not None and lead.company_id != company.pk:
        changed["company"] = company
    if changed:
        for key, value in changed.items():
            setattr(lead, key, value)
        lead.save(update_fields=[*changed, "updated_at"])
    return lead, False


# Lead ids per process_touched_leads task: a realtime worker is never busy long with one (measured at size s:
# docs/capacity.md), so a hot lead's task waits little for a free worker.
TOUCHED_BATCH = 50
# A call touching more leads than this is batch work (a bulk API batch, an import, the sweeper's catch-up, a rescore
# handing over many leads): its tasks go to the `ingest` queue (BATCH_LANE), which has workers of its own, so a
# single capture's (a form, a tracked visit, a booking, one event) on `realtime` never waits for a worker busy with
# a batch. They go at a lower priority too (Redis: 0, the default, is the highest), so that a worker consuming both
# queues (one started without -Q) still takes a single capture's first.
TOUCHED_HOT_MAX = 10
BATCH_LANE: dict[str, Any] = {"queue": "ingest", "priority": 6}


def lane(count: int) -> dict[str, Any]:
    """The queue options for the follow-up work (scoring, then assignment) of `count` leads at once: none (the
    task's route, `realtime`) for a single capture's, BATCH_LANE for batch work's."""
    return BATCH_LANE if count > TOUCHED_HOT_MAX else {}


def leads_touched(lead_ids: Iterable[int]) -> None:
    """The seam every capture path calls after storing touches: after commit, a worker brings these leads up to
    date (awareness stage, scores, handoffs). Batches of at most TOUCHED_BATCH ids per task; a call touching more
    than TOUCHED_HOT_MAX leads goes to the batch lane (`lane`). If the broker is down the touches are still stored
    (the database is the record) and the sweeper catches up later."""
    ids = sorted(set(lead_ids))
    options = lane(len(ids))
    for start in range(0, len(ids), TOUCHED_BATCH):
        batch = ids[start : start + TOUCHED_BATCH]

        # A function with a __qualname__, not a functools.partial: Django logs a failed robust callback by that
        # name, and a partial there turns a broker outage into an AttributeError (a 500 after the commit).
        def enqueue(batch: list[int] = batch) -> None:
            _enqueue_touched(batch, options)

        transaction.on_commit(enqueue, robust=True)


def _enqueue_touched(lead_ids: list[int], options: dict[str, Any]) -> None:
    queue_task("leads.tasks.process_touched_leads", lead_ids, **options)


def touch_record(
    *,
    lead: Lead,
    type: str,
    source: str,
    idempotency_key: str,
    occurred_at=None,
    url: str = "",
    properties: dict | None = None,
) -> tuple[Touch, bool]:
    """Record one touch of a known lead (a sales activity, a form on our own pages). Replays change nothing."""
    touch, created = Touch.objects.get_or_create(
        source=source,
        idempotency_key=idempotency_key,
        defaults={
            "lead": lead,
            "type": type,
            "occurred_at": occurred_at or timezone.now(),
            "url": url,
            "properties": properties or {},
        },
    )
    if created:
        Lead.objects.filter(pk=lead.pk).update(
            last_touch_at=Greatest(Coalesce("last_touch_at", touch.occurred_at), touch.occurred_at)
        )
        leads_touched([lead.pk])
        if type == TouchType.SALES_ACTIVITY:
            # The handoffs feature (above the records) stops the SLA clock of the lead's open handoff.
            hooks.call(hooks.SALES_TOUCH_RECORDED, lead_id=lead.pk, at=touch.occurred_at)
    return touch, created


def lead_consent_proof_record(*, lead_id: int, method: str, wording: str, at) -> bool:
    """Keep the proof of a consent to marketing email the person just gave (how, when, the wording they agreed
    to), as the email law asks. Nothing for a lead without that consent on record, e.g. one who unsubscribed
    (ingest never turns their consent back on). Returns whether the proof was stored."""
    return bool(
        Lead.objects.filter(pk=lead_id, consent_email=True, unsubscribed_at__isnull=True).update(
            consent_method=method, consent_at=at, consent_wording=wording, updated_at=at
        )
    )


@transaction.atomic
def _max_length(name: str) -> int | None:
    field = Lead._meta.get_field(name)
    return field.max_length if isinstance(field, models.Field) else None


def lead_accept_submitted(*, lead: Lead, choices: Sequence[tuple[int, str]], by) -> list[str]:
    """Take values an unauthenticated capture submitted (kept on its touch) into the lead: `choices` are
    (touch id, field) pairs, "company" meaning the submitted company (found or created by its domain or name).
    Touches of other leads and fields the touch did not send are ignored. The acceptance is noted on each touch
    (who, when, which fields) and logged without the values. Returns the fields changed."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    wanted: dict[int, list[str]] = {}
    for touch_id, name in choices:
        if name in ACCEPTABLE_FIELDS:
            wanted.setdefault(int(touch_id), []).append(name)
    touches = {
        t.pk: t for t in Touch.objects.filter(lead=lead, pk__in=wanted).order_by("pk").select_for_update()
    }
    now = timezone.now()
    changed: list[str] = []
    for touch_id, names in wanted.items():
        touch = touches.get(touch_id)
        if touch is None:
            continue
        submitted = (touch.properties or {}).get(SUBMITTED_KEY)
        if not isinstance(submitted, dict):
            continue
        taken = []
        for name in names:
            if name == "company":
                company = company_resolve(
                    name=str(submitted.get("company") or ""),
                    domain=str(submitted.get("company_domain") or ""),
                )
                if company is not None and company.pk != lead.company_id:
                    lead.company = company
                    taken.append(name)
                continue
            value = str(submitted.get(name) or "")[: _max_length(name)]
            if value and getattr(lead, name) != value:
                setattr(lead, name, value)
                taken.append(name)
        if taken:
            accepted = [
                *touch.properties.get("accepted", []),
                {"fields": taken, "by": by.pk, "at": now.isoformat()},
            ]
            Touch.objects.filter(pk=touch.pk).update(properties={**touch.properties, "accepted": accepted})
            logger.info("lead %s: user %s accepted %s submitted on touch %s", lead.pk, by.pk, taken, touch.pk)
            changed += [name for name in taken if name not in changed]
    if changed:
        lead.save(update_fields=[*("company" if n == "company" else n for n in changed), "updated_at"])
        leads_touched([lead.pk])  # the fit score depends on title and company
    return changed
