"""Personal data on request: export one lead's data, erase a lead, and the signed unsubscribe link.

Japan's APPI (個人情報保護法: 開示 / 利用停止・消去 requests) and the GDPR (articles 15, 17 and 21) ask the same of a CRM:
show a person everything held about them, erase it when they ask, and stop marketing to them when they object.

What erasure does, and why (`lead_erase`):

- **Removed**: the lead and everything that is only about them — its touches (and the anonymous browsing of the
  browsers it was stitched to, which is the same person's history), its visitors (tracking cookies), its
  handoffs with their assignment log, its activities that belong to no deal, its attribution credits, the
  in-app notifications and notification e-mails that name it, and uploaded import files that contain its email
  (the import's summary stays; its file is emptied, so re-running it cannot bring the person back).
- **Kept, detached**: deals it was the contact of. A deal is the company's business record and its amount feeds
  revenue, win rate and the weekly review, which need no personal data: the deal keeps its company, owner,
  amounts, stages and campaign, loses its contact (and its handoff link), and the lead's name and email are
  taken out of its name, next step and loss note. Activities logged on such a deal stay with the deal, without
  the lead and with the name and email taken out of their text.
- **Scrubbed everywhere else**: the person's email, name, kana, phone and tracking ids, in any letter case, are
  taken out of the free text people write elsewhere (other deals, activities, to-dos, the weekly meeting's action
  items, handoff notes, the admin's change history: `FREE_TEXT_FIELDS` here and each higher app's own list), and
  their tracking ids in the visitor roll-up become random stand-ins (so past visitor counts stay as they were). A test searches every text and JSON
  column of every table after an erasure, so a new table that keeps a copy is caught.
- **Recorded**: one `ErasureRecord` with the lead's id, a SHA-256 of its normalized email, who erased it, how,
  when and how many rows went — never the email or name themselves.

Leads erases its own rows; the apps that build on it (pipeline, campaigns, kpis) scrub theirs in the
`LEAD_ERASING` hook they register (salesmarketing.hooks), called first in the same transaction, and add their
sections to an export through `LEAD_EXPORTING`.

So the next weekly numbers still count the deal and its revenue; counts that are about people (leads acquired,
MQLs, handoffs) drop by this person, as they should once the person is gone. Attribution roll-ups for the days
the lead had credits are marked dirty and recomputed by the next sweep.

An unsubscribe (the signed `/u/<token>` link, or an `unsubscribe` event from any channel) is recorded as a touch
and sets `Lead.unsubscribed_at`; later form posts, imports or API calls cannot turn consent back on (see
leads.ingest.store and leads.services.lead_upsert). `Lead.objects.emailable()` is the list marketing may send to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from django.contrib.admin.models import LogEntry
from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from leads.choices import LeadSource, TouchType
from leads.ingest import events_ingest
from leads.models import AssignmentLog, Company, ErasureRecord, Handoff, ImportJob, Lead, Touch
from leads.scoring.engine import explain
from leads.services import normalize_email
from leads.tracking import token_path
from salesmarketing import hooks
from salesmarketing.models import Notification, NotificationEmail

UNSUBSCRIBE_SALT = "leads.privacy.unsubscribe"
UNSUBSCRIBE_SOURCE = "unsubscribe-link"
EXPORT_FORMAT_VERSION = 1


# --- Who may ---------------------------------------------------------------------------------------------------


def can_manage_personal_data(user) -> bool:
    """Exports and erasures are for admins and the marketing team's managers (who answer such requests under
    the privacy policy); everyone else may see a lead but not hand out or destroy its data."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.role == user.Role.ADMIN:
        return True
    return user.role == user.Role.MANAGER and user.team is not None and user.team.kind == "marketing"


# --- Export ----------------------------------------------------------------------------------------------------


def lead_export(*, lead: Lead) -> dict[str, Any]:
    """Everything held about the lead, as one JSON-ready document (ids, times in ISO 8601 with offset)."""
    document: dict[str, Any] = {
        "format": "salesmarketing.lead-export",
        "version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now(),
        "lead": _lead_section(lead),
        "company": _company_section(lead.company),
        "consent": _consent_section(lead),
        "scores": _scores_section(lead),
        "browsers": list(lead.visitors.order_by("pk").values("visitor_id", "first_seen_at", "identified_at")),
        "touches": _touches_section(lead),
        "handoffs": _handoffs_section(lead),
        "lifecycle": list(
            lead.lifecycle_changes.order_by("at", "pk").values("from_stage", "to_stage", "at", "reason")
        ),
        "activities": [],
        "deals": [],
    }
    for section in hooks.call(hooks.LEAD_EXPORTING, lead=lead):
        document.update(section)
    return document


def _lead_section(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.pk,
        "email": lead.email,
        "name": lead.name,
        "name_kana": lead.name_kana,
        "title": lead.title,
        "department": lead.department,
        "phone": lead.phone,
        "source": lead.source,
        "lifecycle_stage": lead.lifecycle_stage,
        "awareness_stage": lead.awareness_stage,
        "owner": str(lead.owner) if lead.owner_id else None,
        "persona": str(lead.persona) if lead.persona_id else None,
        "first_touch_campaign": str(lead.first_touch_campaign) if lead.first_touch_campaign_id else None,
        "mql_at": lead.mql_at,
        "recycled_at": lead.recycled_at,
        "last_touch_at": lead.last_touch_at,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }


def _company_section(company: Company | None) -> dict[str, Any] | None:
    if company is None:
        return None
    return {
        "name": company.name,
        "domain": company.domain,
        "industry": company.industry,
        "employee_count": company.employee_count,
        "prefecture": company.prefecture,
    }


def _consent_section(lead: Lead) -> dict[str, Any]:
    return {
        "consent_email": lead.consent_email,
        "unsubscribed_at": lead.unsubscribed_at,
        "email_undeliverable_at": lead.email_undeliverable_at,
        "may_receive_marketing_email": lead.consent_email
        and lead.unsubscribed_at is None
        and lead.email_undeliverable_at is None,
        "obtained_by": lead.consent_method or None,
        "given_at": lead.consent_at,
        "wording": lead.consent_wording,
    }


def _scores_section(lead: Lead) -> dict[str, Any]:
    return {
        "fit": lead.fit_score,
        "engagement": lead.engagement_score,
        "total": lead.total_score,
        "scored_at": lead.scored_at,
        "rules": [
            {"rule": c.name, "axis": c.kind, "matches": c.matches, "points": c.points, "counted": c.counted}
            for c in explain([lead.pk])[lead.pk]
        ],
    }


def _touches_section(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "type": t.type,
            "occurred_at": t.occurred_at,
            "url": t.url,
            "utm": {
                k: v
                for k, v in (
                    ("source", t.utm_source),
                    ("medium", t.utm_medium),
                    ("campaign", t.utm_campaign),
                    ("content", t.utm_content),
                    ("term", t.utm_term),
                )
                if v
            },
            "campaign": str(t.campaign) if t.campaign_id else None,
            "properties": t.properties,
            "source": t.source,
        }
        for t in lead.touches.select_related("campaign").order_by("occurred_at", "id")
    ]


def _handoffs_section(lead: Lead) -> list[dict[str, Any]]:
    handoffs = lead.handoffs.select_related("owner", "team", "campaign").prefetch_related("assignments")
    return [
        {
            "id": h.pk,
            "state": h.state,
            "rep": str(h.owner) if h.owner_id else None,
            "team": str(h.team) if h.team_id else None,
            "score_at_handoff": h.score_at_handoff,
            "reason": h.reason,
            "mql_at": h.mql_at,
            "first_touch_at": h.first_touch_at,
            "decided_at": h.decided_at,
            "reject_reason": h.reject_reason,
            "reject_note": h.reject_note,
            "assignments": [{"at": a.created_at, "reason": a.reason} for a in h.assignments.all()],
        }
        for h in handoffs
    ]


def lead_export_json(*, lead: Lead) -> str:
    return json.dumps(lead_export(lead=lead), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


# --- Erasure ---------------------------------------------------------------------------------------------------


def email_sha256(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def lead_erase(*, lead: Lead, by=None, via: str = ErasureRecord.Via.WEB) -> ErasureRecord:
    """Erase the lead as the module docstring says, in one transaction, and return the audit row.

    Raises Lead.DoesNotExist when a concurrent request erased it first (the row lock makes the second wait)."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        visitor_ids = list(lead.visitors.values_list("visitor_id", flat=True))
        mentions = _mentions(lead, visitor_ids)
        scrub = _scrubber(mentions)
        counts = _higher_apps_scrubbed(lead, visitor_ids, mentions, scrub)
        _own_rows_erased(lead, visitor_ids, mentions, scrub, counts)
        record = ErasureRecord.objects.create(
            lead_id=lead.pk, email_sha256=email_sha256(lead.email), erased_by=by, via=via, counts=counts
        )
        lead.delete()  # the visitors, handoffs and their assignment log go with it (on_delete=CASCADE)
    return record


def _higher_apps_scrubbed(lead: Lead, visitor_ids: list[str], mentions: list[str], scrub) -> dict[str, int]:
    """The apps that build on leads scrub their own rows first (deals detached, attribution credits, the visitor
    roll-up, their free text), while the lead and its touches are still there to find them by. Their counts."""
    counts: dict[str, int] = {}
    for app_counts in hooks.call(
        hooks.LEAD_ERASING,
        lead=lead,
        visitor_ids=visitor_ids,
        mentions=mentions,
        scrub=scrub,
        now=timezone.now(),
    ):
        for kind, changed in app_counts.items():
            counts[kind] = counts.get(kind, 0) + changed
    return counts


def _own_rows_erased(
    lead: Lead, visitor_ids: list[str], mentions: list[str], scrub, counts: dict[str, int]
) -> None:
    """Leads' own rows about the person (the lead row itself goes last, with its audit record); adds to `counts`."""
    touches = Touch.objects.filter(Q(lead=lead) | Q(lead__isnull=True, visitor_id__in=visitor_ids))
    counts["touches"] = touches.delete()[0]
    counts["handoffs"] = lead.handoffs.count()
    counts["notifications"] = sum(
        _notifications_naming(model, lead, mentions).delete()[0]
        for model in (Notification, NotificationEmail)
    )
    counts["import_files_emptied"] = _import_files_emptied(lead.email)
    # Free text people wrote anywhere else (another deal's note, a to-do, a meeting's action item, the admin's
    # change history) may quote the person too: those rows stay, without the quote.
    counts["texts_scrubbed"] = counts.get("texts_scrubbed", 0) + sum(
        scrub_texts(model, fields, mentions, scrub) for model, fields in FREE_TEXT_FIELDS
    )


# Text columns that people write and that may quote a lead by name, email or phone, by model: every row that holds
# one of the erased person's values, in any letter case, keeps its text without it (`scrub_texts`). The higher
# apps keep their own list (pipeline.hooks, kpis.hooks) and scrub it in their LEAD_ERASING hook.
FREE_TEXT_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (Handoff, ("reason", "reject_note")),
    (AssignmentLog, ("reason",)),
    (LogEntry, ("object_repr", "change_message")),
)


def _mentions(lead: Lead, visitor_ids: list[str]) -> list[str]:
    """The values that identify the person: email, name (also without its spaces, as people often type a
    Japanese name), kana, phone and tracking ids. Longest first, so a name inside the email goes with the email."""
    values: set[str] = set(visitor_ids)
    # The records merged into this one (tombstones, deleted with it) spelled the same person their own way.
    for person in (lead, *Lead.all_objects.filter(merged_into=lead).order_by("pk")):
        name = " ".join(person.name.split())
        values |= {person.email, name, name.replace(" ", ""), person.name_kana.strip(), person.phone.strip()}
    return sorted((v for v in values if len(v) >= 2), key=len, reverse=True)


def _scrubber(mentions: list[str]):
    if not mentions:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(m) for m in mentions), re.IGNORECASE)
    return lambda text: pattern.sub("—", text)


def scrub_texts(model: type[models.Model], fields: tuple[str, ...], mentions: list[str], scrub) -> int:
    """Scrub the mentions out of `fields` of every row of the model that holds one (case-insensitive). The
    columns have no index for this, so it reads each table once; erasures are rare and this is their price.
    The higher apps' LEAD_ERASING hooks use it for their own free text."""
    if not mentions:
        return 0
    condition = Q()
    for field in fields:
        for mention in mentions:
            condition |= Q(**{f"{field}__icontains": mention})
    changed = 0
    for row in model._default_manager.filter(condition).order_by("pk").values("pk", *fields):
        update = {}
        for field in fields:
            text = scrub(row[field] or "")
            if text != (row[field] or ""):
                max_length = getattr(model._meta.get_field(field), "max_length", None)
                update[field] = text[:max_length] if max_length else text
        if update:
            changed += model._default_manager.filter(pk=row["pk"]).update(**update)
    return changed


def _notifications_naming(model: type[Notification | NotificationEmail], lead: Lead, mentions: list[str]):
    """The notifications (or notification e-mails) about the lead (its page, its id in a message's parameters)
    or quoting the person (a stored title or body; any text parameter, e.g. a deal's name or a rejection note).
    JSON is matched in Python: SQLite stores it ASCII-escaped, so SQL could not find a Japanese name in it."""
    condition = Q(url=reverse("leads:detail", args=[lead.pk])) | Q(params__lead_id=lead.pk)
    for mention in mentions:
        condition |= Q(title__icontains=mention) | Q(body__icontains=mention)
    needles = [m.casefold() for m in mentions]
    quoting = [
        pk
        for pk, params in model.objects.exclude(params={}).values_list("pk", "params").iterator()
        if any(n in str(v).casefold() for v in (params or {}).values() for n in needles)
    ]
    return model.objects.filter(condition | Q(pk__in=quoting))


def _import_files_emptied(email: str) -> int:
    """Empty the stored upload of every import whose file holds this email (ASCII, so the same bytes in UTF-8
    and CP932; matched case-insensitively). Row errors, which quote rows, go too."""
    needle = normalize_email(email).encode()
    emptied = 0
    for pk, content in ImportJob.objects.exclude(content=b"").values_list("pk", "content").iterator():
        if needle in bytes(content).lower():
            ImportJob.objects.filter(pk=pk).update(content=b"", errors=[])
            emptied += 1
    return emptied


# --- Unsubscribe -----------------------------------------------------------------------------------------------


def unsubscribe_token(*, lead_id: int) -> str:
    """The token of the lead's unsubscribe link: signed, no expiry (an old email's link must keep working)."""
    return signing.dumps({"l": int(lead_id)}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_path(*, lead_id: int) -> str:
    """`/u/<token>`: put it in every marketing email (prefix your site's origin)."""
    return token_path("capture:unsubscribe", unsubscribe_token(lead_id=lead_id))


def read_unsubscribe_token(token: str) -> int | None:
    """The lead id the token was made for, or None when it is forged, altered or malformed."""
    try:
        return int(signing.loads(token, salt=UNSUBSCRIBE_SALT)["l"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def lead_unsubscribe(
    *, lead_id: int, at: dt.datetime | None = None, source: str = UNSUBSCRIBE_SOURCE
) -> bool:
    """Record the unsubscribe as a touch (through the one ingest path, so it shows on the timeline and sets
    `unsubscribed_at` and consent off). Idempotent: a second request for the same lead the same day changes nothing.
    Returns False when the lead no longer exists (erased: there is nobody left to email)."""
    # A merged lead's link unsubscribes the person it became part of (leads.merge).
    lead_id = Lead.all_objects.filter(pk=lead_id).values_list("merged_into_id", flat=True).first() or lead_id
    if not Lead.objects.filter(pk=lead_id).exists():
        return False
    # One per lead and day: a double click is one touch, while a lead re-subscribed by hand can opt out again.
    day = timezone.localdate(at or timezone.now()).isoformat()
    event = {"id": f"unsubscribe:{lead_id}:{day}", "type": TouchType.UNSUBSCRIBE, "lead_id": lead_id}
    if at is not None:
        event["occurred_at"] = at.isoformat()
    events_ingest(events=[event], source=source, lead_source=LeadSource.OTHER)
    return True


def lead_email_undeliverable(*, lead_id: int, at: dt.datetime | None = None) -> bool:
    """A hard bounce (or a spam complaint) on the lead's address: it is marked undeliverable and the consent to
    email is withdrawn, so nothing sends to it again until the address changes. False when it already was (or the
    lead is gone)."""
    return bool(
        Lead.objects.filter(pk=lead_id, email_undeliverable_at__isnull=True).update(
            email_undeliverable_at=at or timezone.now(), consent_email=False, updated_at=timezone.now()
        )
    )
