"""Leads and events over the JSON API (/api/v1/): thin endpoints over leads.ingest and leads.services.

Every error is JSON with a 4xx status: 400 for a body that is not JSON, 401/403 for the key, 404, 409 when a
concurrent write won a race (retry: every write here is idempotent), 413 for a body over the size limit,
422 for invalid fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, PlainValidator

from leads.choices import AwarenessStage, Industry, LeadSource, LifecycleStage
from leads.custom_fields.api import custom_in, custom_out
from leads.custom_fields.services import custom_apply
from leads.handoffs.api import router as handoffs_router
from leads.ingest import MAX_EVENTS_PER_BATCH, Domain, Email, EventIn, Text, events_ingest, lead_capture
from leads.models import CustomObject, ErasureRecord, Lead
from leads.privacy import can_manage_personal_data, lead_erase, lead_export
from leads.records.api import router as records_router
from leads.scoring.engine import explain
from leads.services import normalize_email
from salesmarketing.api import Page, SinceQuery, page_out, require_scope, service_invalid, since_filtered
from salesmarketing.models import ApiKey, User

router = Router(tags=["leads"])
router.add_router("/", handoffs_router)  # the handoffs feature's endpoints, /api/v1/handoffs…
router.add_router("/", records_router)  # the records feature's: /api/v1/companies…


# --- Schemas ------------------------------------------------------------------------------------------


def _passthrough(value: Any) -> Any:
    return value


# Each event is validated on its own by the service, so one bad event cannot fail the batch; the schema
# still documents the event's fields.
RawEvent = Annotated[Any, PlainValidator(_passthrough, json_schema_input_type=EventIn)]


class EventBatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    events: list[RawEvent] = Field(
        max_length=MAX_EVENTS_PER_BATCH,
        description=f"Up to {MAX_EVENTS_PER_BATCH:,} events. Each is validated on its own: invalid events are "
        "listed in `rejected`, the rest are stored.",
    )


class RejectedOut(Schema):
    index: int = Field(description="Position of the event in `events`, counting from 0.")
    errors: dict[str, list[str]] = Field(
        description="Field name → messages; `__all__` for the event as a whole.",
        examples=[{"email": ["Enter a valid email address."]}],
    )


class IngestOut(Schema):
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(
        description="Events whose id was already stored (earlier, or earlier in this batch)."
    )
    rejected: list[RejectedOut] = Field(description="Invalid events, not stored; fix and resend them.")


class LeadIn(Schema):
    """A lead to create, or to fill in when one with this email exists (matched case-insensitively).
    Empty values never erase what is known."""

    model_config = ConfigDict(extra="forbid")

    email: Email = Field(max_length=254, examples=["taro.yamada@example.co.jp"])
    name: Text = Field("", max_length=200, examples=["山田 太郎"])
    name_kana: Text = Field("", max_length=200, examples=["ヤマダ タロウ"])
    title: Text = Field("", max_length=200, description="Job title.", examples=["情報システム部 部長"])
    department: Text = Field("", max_length=200)
    phone: Text = Field("", max_length=50)
    consent_email: bool | None = Field(None, strict=True, description="Whether they agreed to receive email.")
    company: Text = Field("", max_length=200, description="Company name.", examples=["株式会社サンプル"])
    company_domain: Domain = Field(
        "",
        max_length=200,
        description="Company web domain; companies are matched by it.",
        examples=["example.co.jp"],
    )
    industry: Industry | None = Field(None, description="The company's industry.")
    employee_count: int | None = Field(
        None, ge=0, le=10_000_000, strict=True, description="The company's head count."
    )
    prefecture: Text = Field("", max_length=20, description="The company's prefecture; sets its region.")
    custom: dict[str, Any] | None = custom_in()


class CompanyOut(Schema):
    id: int
    name: str
    domain: str
    industry: str = Field(description="Industry code ('' when unknown).")
    employee_count: int | None
    prefecture: str
    region: str = Field(description="Region code ('' when unknown).")


class LeadOut(Schema):
    id: int
    email: str
    name: str
    name_kana: str
    title: str = Field(description="Job title.")
    department: str
    phone: str
    company: CompanyOut | None
    source: LeadSource = Field(description="Where the lead first came from.")
    lifecycle_stage: LifecycleStage = Field(
        description="subscriber → lead → MQL → SQL → opportunity → customer."
    )
    awareness_stage: AwarenessStage = Field(
        description="Inferred from behaviour: latent (潜在層), semi (準顕在層), manifest (顕在層)."
    )
    fit_score: int = Field(description="属性スコア: who they are (title, company size, industry, region).")
    engagement_score: int = Field(description="行動スコア: what they did, decaying with time.")
    total_score: int = Field(description="fit_score + engagement_score.")
    scored_at: dt.datetime | None = Field(description="When the scores were last computed.")
    mql_at: dt.datetime | None = Field(description="When the lead became an MQL.")
    last_touch_at: dt.datetime | None
    first_touch_campaign_id: int | None = Field(description="The campaign of the lead's first linked touch.")
    owner_id: int | None = Field(description="The user who owns the lead.")
    consent_email: bool
    unsubscribed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    custom: dict[str, Any] = Field(description="Custom field values by key (the fields offered to the API).")

    @staticmethod
    def resolve_custom(obj: Lead, context) -> dict[str, Any]:
        return custom_out(context["request"] if context else None, CustomObject.LEAD, obj.custom)


class ContributionOut(Schema):
    rule: str = Field(description="The scoring rule's name.")
    axis: str = Field(description="`fit` or `engagement`.")
    group: str = Field(description="The rule group ('' when none); each group adds at most its cap.")
    matches: int = Field(description="How many touches (or fields) matched.")
    points: float = Field(description="Points before the group cap; engagement points decay with time.")
    counted: float = Field(description="Points the rule adds to the score once its group is capped.")


class CurrentHandoffOut(Schema):
    id: int
    state: str
    owner_id: int | None
    mql_at: dt.datetime
    assigned_at: dt.datetime | None
    sla_due_at: dt.datetime | None
    first_touch_at: dt.datetime | None
    decided_at: dt.datetime | None
    reject_reason: str
    reason: str = Field(description="Why it was hot when handed over.")


class LeadDetailOut(LeadOut):
    score_explanation: list[ContributionOut] = Field(
        description="Every rule that gave points now, biggest first (the same list as the lead's page)."
    )
    handoff: CurrentHandoffOut | None = Field(description="The lead's latest handoff to sales, if any.")


# --- Endpoints ----------------------------------------------------------------------------------------


def _acting_user(key: ApiKey) -> User | None:
    """The user whose view limits what the key reaches; None for an integration's key, which reaches all."""
    return None if key.is_integration else key.user


def _leads_for(key: ApiKey) -> QuerySet[Lead]:
    """The leads a key reads and writes: a user's key what that user may open in the app (404 for the rest)."""
    user = _acting_user(key)
    return Lead.objects.all() if user is None else Lead.objects.visible_to(user)


@router.post(
    "/events",
    response={202: IngestOut},
    summary="Send a batch of events",
    description="Store up to 1,000 touches (page views, form submissions, downloads, webinar attendance, "
    "email opens …) in one call. Needs the `events:write` scope. Each event's `id` is its idempotency key "
    "within the key's source: resending a batch is safe and counts the repeats as `duplicates`.",
)
def events_create(request: HttpRequest, payload: EventBatchIn):
    key = require_scope(request, ApiKey.Scope.EVENTS_WRITE)
    try:
        result = events_ingest(
            events=payload.events,
            source=f"api:{key.source}",
            lead_source=LeadSource.API,
            visible_to=_acting_user(key),
            authenticated=True,  # an integration's key vouches for its profile values
        )
    except IntegrityError as exc:
        raise HttpError(409, "A concurrent request changed the same records; resend the batch.") from exc
    return Status(202, result)


@router.post(
    "/leads",
    response={200: LeadOut, 201: LeadOut},
    summary="Create or update a lead",
    description="Upsert by email (case-insensitive): 201 with the new lead, 200 with the updated one. "
    "Needs the `leads:write` scope.",
)
def lead_create_or_update(request: HttpRequest, payload: LeadIn):
    key = require_scope(request, ApiKey.Scope.LEADS_WRITE)
    fields = payload.model_dump()
    custom = fields.pop("custom", None)
    try:
        with transaction.atomic():
            lead, created = lead_capture(**fields, source=LeadSource.API, visible_to=_acting_user(key))
            if custom is not None or created:  # a new lead must have its required fields
                lead.custom = custom_apply(
                    object_type=CustomObject.LEAD,
                    current=lead.custom,
                    values=custom or {},
                    place="in_api",
                    check_required=True,
                )
                lead.save(update_fields=["custom", "updated_at"])
    except DjangoValidationError as error:
        raise service_invalid(error) from None
    except Lead.DoesNotExist as exc:
        # Another team's lead answers as GET /leads/<id> does; nothing of it is read or changed.
        raise HttpError(404, "Lead not found.") from exc
    except IntegrityError as exc:
        raise HttpError(409, "A concurrent request changed the same lead; try again.") from exc
    return Status(201 if created else 200, lead)


class LeadFilters(SinceQuery):
    email: str | None = Field(
        None, max_length=254, description="Exactly this address (case-insensitive): finds one lead or none."
    )
    lifecycle_stage: LifecycleStage | None = None
    awareness_stage: AwarenessStage | None = None
    owner: int | None = Field(None, ge=1, le=2**63 - 1, description="The owner's user id.")
    company: int | None = Field(None, ge=1, le=2**63 - 1, description="The company's id.")


@router.get(
    "/leads",
    response=Page[LeadOut],
    summary="List leads, newest first",
    description="The leads the key's user sees in the app (every lead for an integration's key), newest "
    "first, a page at a time (`next_cursor`). `email=` looks a lead up by address; reading never rescores. "
    "Needs the `leads:read` scope.",
)
def leads_list(request: HttpRequest, filters: Query[LeadFilters]):
    qs = _leads_for(require_scope(request, ApiKey.Scope.LEADS_READ)).select_related("company")
    if filters.email is not None:
        # Lower(email) is what the unique index holds, so the lookup is an index probe on PostgreSQL.
        qs = qs.annotate(email_lower=Lower("email")).filter(email_lower=normalize_email(filters.email))
    for name in ("lifecycle_stage", "awareness_stage"):
        if getattr(filters, name):
            qs = qs.filter(**{name: getattr(filters, name)})
    if filters.owner is not None:
        qs = qs.filter(owner_id=filters.owner)
    if filters.company is not None:
        qs = qs.filter(company_id=filters.company)
    return page_out(since_filtered(qs, filters), filters)


@router.get(
    "/leads/{int:lead_id}",
    response=LeadDetailOut,
    summary="Read a lead",
    description="The lead with its fit, engagement and total score, the rules behind them, lifecycle and "
    "awareness stage, and its current handoff. Needs the `leads:read` scope. A lead merged into another "
    "answers 308 with the other's URL in `Location`.",
)
def lead_read(request: HttpRequest, lead_id: int):
    key = require_scope(request, ApiKey.Scope.LEADS_READ)
    lead = _leads_for(key).select_related("company").filter(pk=lead_id).first()
    if lead is None:
        # A merged lead's id answers 308 Permanent Redirect to the lead it was merged into (a client follows it
        # and may store the new id), if the key reaches that lead; else 404 as for any other unknown id.
        survivor = Lead.all_objects.filter(pk=lead_id).values_list("merged_into_id", flat=True).first()
        if survivor and _leads_for(key).filter(pk=survivor).exists():
            response = HttpResponse(status=308)
            response["Location"] = request.path.replace(f"/leads/{lead_id}", f"/leads/{survivor}", 1)
            return response
        raise Http404("Lead not found.")
    lead.score_explanation = [
        {
            "rule": c.name,
            "axis": c.kind,
            "group": c.group,
            "matches": c.matches,
            "points": c.points,
            "counted": c.counted,
        }
        for c in explain([lead.pk])[lead.pk]
    ]
    lead.handoff = lead.handoffs.order_by("-mql_at", "-id").first()
    return lead


class ErasureOut(Schema):
    lead_id: int = Field(description="The erased lead's id (it no longer exists).")
    erased_at: dt.datetime
    counts: dict[str, int] = Field(description="What was removed or detached, by kind.")


def _lead_for_privacy(request: HttpRequest, lead_id: int) -> Lead:
    """The lead, for a key with the privacy scope; a key acting as a user also needs that user's right to it."""
    key = require_scope(request, ApiKey.Scope.PRIVACY)
    lead = (
        _leads_for(key)
        .select_related("company", "owner", "persona", "first_touch_campaign")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise HttpError(404, "Lead not found.")
    if not key.is_integration and not can_manage_personal_data(key.user):
        raise HttpError(403, "The key's user may not export or erase personal data.")
    return lead


@router.get(
    "/leads/{int:lead_id}/export",
    response=dict[str, Any],
    summary="Export a lead's personal data",
    description="Everything held about the lead in one document: profile, company, consent and unsubscribe "
    "state, scores, touches, handoffs, activities and deals (a data subject access request). Needs the "
    "`leads:privacy` scope.",
)
def lead_export_api(request: HttpRequest, lead_id: int):
    return lead_export(lead=_lead_for_privacy(request, lead_id))


@router.delete(
    "/leads/{int:lead_id}",
    response=ErasureOut,
    summary="Erase a lead",
    description="Erase the lead at the person's request: the lead, its touches, handoffs and lead-only "
    "activities are removed; its deals keep their amounts without the person. An audit record without "
    "personal data is kept. Needs the `leads:privacy` scope.",
)
def lead_erase_api(request: HttpRequest, lead_id: int):
    lead = _lead_for_privacy(request, lead_id)
    record = lead_erase(lead=lead, by=request.auth.user, via=ErasureRecord.Via.API)
    return {"lead_id": record.lead_id, "erased_at": record.erased_at, "counts": record.counts}


# Ninja answers a method a path does not serve with a plain-text 405; these keep every error JSON.
_OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _method_not_allowed(allowed: str) -> HttpResponse:
    response = JsonResponse({"detail": f"Method not allowed; use {allowed}."}, status=405)
    response["Allow"] = allowed
    return response


@router.api_operation(
    [m for m in _OTHER_METHODS if m != "POST"], "/events", auth=None, include_in_schema=False
)
def events_other_methods(request: HttpRequest):
    return _method_not_allowed("POST")


@router.api_operation(
    [m for m in _OTHER_METHODS if m not in ("GET", "POST")], "/leads", auth=None, include_in_schema=False
)
def leads_other_methods(request: HttpRequest):
    return _method_not_allowed("GET, POST")


@router.api_operation(
    [m for m in _OTHER_METHODS if m not in ("GET", "DELETE")],
    "/leads/{int:lead_id}",
    auth=None,
    include_in_schema=False,
)
def lead_other_methods(request: HttpRequest, lead_id: int):
    return _method_not_allowed("GET, DELETE")
