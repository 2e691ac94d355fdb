"""Campaigns and their costs over the JSON API.

Campaigns are shared like on the pages: every key with `campaigns:read` lists and reads them and their cost
lines. Adding a cost needs `campaigns:write`, and a key acting as a user also needs that user's right to change
campaigns (marketing, managers, admins; a rep's key gets 403, as the page). Costs go through the same service as
the campaign page: a negative amount or an `external_id` already recorded for the campaign answers 422 naming the
field, so a client may resend a cost line with its own id safely.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, StrictInt

from campaigns import services
from campaigns.models import CampaignCost
from campaigns.selectors import can_edit
from leads.ingest import Text
from leads.models import Campaign
from salesmarketing.api import (
    Page,
    PageQuery,
    SinceQuery,
    acting_user,
    page_out,
    require_scope,
    service_invalid,
    since_filtered,
)
from salesmarketing.dates import InRangeDate
from salesmarketing.models import ApiKey

router = Router(tags=["campaigns"])


class CampaignOut(Schema):
    id: int
    name: str
    channel: str
    objective: str
    status: str
    awareness_stage: str = Field(description="The targeted awareness stage ('' when any).")
    start_date: dt.date | None
    end_date: dt.date | None
    budget: int = Field(description="Yen.")
    utm_campaign: str = Field(description="Touches with this utm_campaign are linked to the campaign.")
    utm_source: str
    utm_medium: str
    owner_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_budget(obj: Campaign) -> int:
        return int(obj.budget)


class CampaignFilters(SinceQuery):
    status: Campaign.Status | None = None
    channel: Campaign.Channel | None = None
    q: str | None = Field(None, max_length=200, description="Part of the name.")
    utm_campaign: str | None = Field(None, max_length=100, description="Exactly this UTM campaign code.")


class CostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: InRangeDate = Field(..., description="The day the money was spent (its month counts it).")
    amount: StrictInt = Field(..., ge=0, lt=10**14, description="Yen, a whole number.")
    description: Text = Field("", max_length=200)
    external_id: Text = Field(
        "",
        max_length=100,
        description="Your id for the line: a second line with the same id is refused (422).",
    )


class CostOut(Schema):
    id: int
    campaign_id: int
    date: dt.date
    amount: int
    description: str
    external_id: str
    created_at: dt.datetime

    @staticmethod
    def resolve_amount(obj: CampaignCost) -> int:
        return int(obj.amount)


class ErrorOut(Schema):
    detail: str


def _campaign(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise HttpError(404, "Campaign not found.")
    return campaign


@router.get("/campaigns", response=Page[CampaignOut], summary="List campaigns, newest first")
def campaigns_list(request: HttpRequest, filters: Query[CampaignFilters]):
    require_scope(request, ApiKey.Scope.CAMPAIGNS_READ)
    qs = Campaign.objects.all()
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    if filters.utm_campaign is not None:
        qs = qs.filter(utm_campaign=filters.utm_campaign)
    return page_out(since_filtered(qs, filters), filters, keys=("pk",))


@router.get(
    "/campaigns/{int:campaign_id}", response={200: CampaignOut, 404: ErrorOut}, summary="Read a campaign"
)
def campaign_read(request: HttpRequest, campaign_id: int):
    require_scope(request, ApiKey.Scope.CAMPAIGNS_READ)
    return _campaign(campaign_id)


@router.get(
    "/campaigns/{int:campaign_id}/costs",
    response={200: Page[CostOut], 404: ErrorOut},
    summary="A campaign's cost lines, newest first",
)
def campaign_costs_list(request: HttpRequest, campaign_id: int, page: Query[PageQuery]):
    require_scope(request, ApiKey.Scope.CAMPAIGNS_READ)
    campaign = _campaign(campaign_id)
    return page_out(CampaignCost.objects.filter(campaign=campaign), page, keys=("pk",))


@router.post(
    "/campaigns/{int:campaign_id}/costs",
    response={201: CostOut, 403: ErrorOut, 404: ErrorOut},
    summary="Add a cost line to a campaign",
)
def campaign_costs_create(request: HttpRequest, campaign_id: int, payload: CostIn):
    key = require_scope(request, ApiKey.Scope.CAMPAIGNS_WRITE)
    user = acting_user(key)
    if user is not None and not can_edit(user):
        raise HttpError(403, "This key's user may not change campaigns.")
    campaign = _campaign(campaign_id)
    try:
        cost = services.cost_add(
            campaign=campaign,
            date=payload.date,
            amount=Decimal(payload.amount),
            description=payload.description,
            external_id=payload.external_id,
        )
    except DjangoValidationError as error:
        raise service_invalid(error) from None
    return Status(201, cost)
