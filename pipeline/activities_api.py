"""Activities, pipelines and stages over the JSON API.

`GET /activities` lists the calls, meetings, emails… the key's user sees on the deal and lead pages (an activity
on a deal they read, or on a lead they see); `POST /activities` logs one through the same service as the pages,
so an activity on a lead counts as the first touch of its open handoff (its SLA clock stops). Both need the
`activities:write` scope. `GET /pipelines` and `GET /stages` are lookups any valid key reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictBool, StrictInt

from leads.ingest import Text
from leads.models import Lead
from pipeline import services
from pipeline.models import Activity, Deal, Pipeline, Stage
from salesmarketing.api import (
    Page,
    SinceQuery,
    acting_user,
    field_invalid,
    page_out,
    require_scope,
    service_invalid,
    since_filtered,
)
from salesmarketing.dates import InRangeDatetime
from salesmarketing.models import ApiKey

router = Router(tags=["activities"])

ActivityType = Literal[tuple(Activity.Type.values)]  # type: ignore[valid-type]
Id = StrictInt


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    type: ActivityType = Field(..., description="call, meeting, email, demo, proposal or note.")
    subject: Text = Field(..., min_length=1, max_length=200)
    deal_id: Id | None = Field(None, description="A deal the key's user may act on.")
    lead_id: Id | None = Field(None, description="A lead the key's user sees; default: the deal's contact.")
    body: Text = Field("", max_length=10_000)
    outcome: Text = Field("", max_length=200)
    occurred_at: InRangeDatetime | None = Field(None, description="When it happened, ISO 8601; default: now.")
    is_voice: StrictBool = Field(
        False, description="A remark worth sharing with marketing (voice of the customer)."
    )
    voice_text: Text = Field("", max_length=10_000, description="What the customer said (with is_voice).")


class ActivityOut(Schema):
    id: int
    type: str
    subject: str
    body: str
    outcome: str
    deal_id: int | None
    lead_id: int | None
    occurred_at: dt.datetime
    is_voice: bool
    voice_text: str
    created_by_id: int | None
    created_at: dt.datetime


class ActivityFilters(SinceQuery):
    deal: int | None = Field(None, ge=1, le=2**63 - 1)
    lead: int | None = Field(None, ge=1, le=2**63 - 1)
    type: ActivityType | None = None


class StageOut(Schema):
    id: int
    pipeline_id: int
    name_ja: str
    name_en: str
    order: int
    probability: int
    is_won: bool
    is_lost: bool


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]


class ErrorOut(Schema):
    detail: str


def _activities(key: ApiKey) -> QuerySet[Activity]:
    user = acting_user(key)
    if user is None:
        return Activity.objects.all()
    return Activity.objects.filter(
        Q(deal__in=Deal.objects.readable_by(user).values("pk"))
        | Q(lead__in=Lead.objects.visible_to(user).values("pk"))
    )


@router.get("/activities", response=Page[ActivityOut], summary="List activities, newest first")
def activities_list(request: HttpRequest, filters: Query[ActivityFilters]):
    qs = _activities(require_scope(request, ApiKey.Scope.ACTIVITIES_WRITE))
    if filters.deal is not None:
        qs = qs.filter(deal_id=filters.deal)
    if filters.lead is not None:
        qs = qs.filter(lead_id=filters.lead)
    if filters.type:
        qs = qs.filter(type=filters.type)
    return page_out(since_filtered(qs, filters), filters, keys=("pk",))


@router.post("/activities", response={201: ActivityOut}, summary="Log an activity (call, meeting…)")
def activities_create(request: HttpRequest, payload: ActivityIn):
    """On a deal (`deal_id`), a lead (`lead_id`) or both. As on the pages, an activity on a lead (or on a deal
    with a contact) is a sales touch of the lead: it stops the SLA clock of the lead's open handoff."""
    key = require_scope(request, ApiKey.Scope.ACTIVITIES_WRITE)
    user = acting_user(key)
    deal = lead = None
    if payload.deal_id is not None:
        deals = Deal.objects.all() if user is None else Deal.objects.visible_to(user)
        deal = deals.select_related("contact").filter(pk=payload.deal_id).first()
        if deal is None:
            raise field_invalid("deal_id", "No deal has this id.")
    if payload.lead_id is not None:
        leads = Lead.objects.all() if user is None else Lead.objects.visible_to(user)
        lead = leads.filter(pk=payload.lead_id).first()
        if lead is None:
            raise field_invalid("lead_id", "No lead has this id.")
    occurred_at = payload.occurred_at
    if occurred_at is not None and timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)  # read as Asia/Tokyo, as events are
    try:
        activity = services.activity_log(
            by=user,
            deal=deal,
            lead=lead,
            type=payload.type,
            subject=payload.subject,
            body=payload.body,
            outcome=payload.outcome,
            occurred_at=occurred_at,
            is_voice=payload.is_voice,
            voice_text=payload.voice_text,
        )
    except DjangoValidationError as error:
        raise service_invalid(error, {"deal": "deal_id", "lead": "lead_id"}) from None
    return Status(201, activity)


@router.get("/pipelines", response=list[PipelineOut], summary="List pipelines with their stages")
def pipelines_list(request: HttpRequest):
    return list(Pipeline.objects.order_by("-is_default", "name", "pk").prefetch_related("stages")[:100])


@router.get("/stages", response=list[StageOut], summary="List stages")
def stages_list(request: HttpRequest, pipeline: int | None = Query(None, ge=1, le=2**63 - 1)):
    qs = Stage.objects.order_by("pipeline_id", "order", "pk")
    if pipeline is not None:
        qs = qs.filter(pipeline_id=pipeline)
    return list(qs[:1000])
