"""Deals over the JSON API: create, read, and update (fields, stage, close won / lost, reopen).

Needs the `deals:write` scope. The key's user (when set) is the acting user and sees what they would see in the
app; a key without a user acts for the integration and sees every deal. A deal's `version` is also its ETag; a
PATCH that sends it (`If-Match` header or `version` field) is refused with 409 and the current deal when the
deal changed since. Stage moves, closes and reopens go through the same service as the board. Errors are JSON:
404 for a deal the key cannot see, 409 for a stale version, 422 with field locations for invalid input
(unknown fields included; ids, amounts and probabilities are JSON integers, never booleans or strings).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as ApiValidationError
from pydantic import ConfigDict, StrictInt

from leads.custom_fields.api import custom_in, custom_out
from leads.ingest import Text
from leads.models import Company, Lead
from pipeline import selectors, services
from pipeline.activities_api import router as activities_router
from pipeline.models import Deal, Stage
from salesmarketing.api import Page, SinceQuery, cursor_page, error_loc, require_scope, since_filtered
from salesmarketing.dates import InRangeDate
from salesmarketing.models import ApiKey, User

router = Router(tags=["deals"])
router.add_router("/", activities_router)  # /api/v1/activities, /pipelines, /stages

SourceChoice = Literal["marketing", "sales", "referral", "partner"]
LossCauseChoice = Literal[tuple(Deal.LossCause.values)]  # type: ignore[valid-type]
LossSideChoice = Literal[tuple(Deal.LossSide.values)]  # type: ignore[valid-type]
# Whole yen as a JSON integer: `true`, `1.5` or `"100"` are not amounts.
Money = Annotated[StrictInt, Field(ge=0, lt=10**14)]
Id = StrictInt


class DealIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(..., min_length=1, max_length=200)
    company_id: Id | None = None
    company_name: Text | None = Field(
        None, max_length=200, description="Found or created when no company_id."
    )
    contact_lead_id: Id | None = None
    owner_id: Id | None = Field(None, description="Default: the API key's user.")
    stage_id: Id | None = Field(
        None, description="An open stage; default: the first stage of the default pipeline."
    )
    amount: Money = 0
    probability: StrictInt | None = Field(None, ge=0, le=100, description="Default: the stage's probability.")
    expected_close_date: InRangeDate | None = None
    source: SourceChoice = "sales"
    next_step: Text = Field("", max_length=200)
    next_step_date: InRangeDate | None = None
    custom: dict[str, Any] | None = custom_in()


class DealPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    version: StrictInt | None = Field(
        None, description="When given (or sent as If-Match), the update is refused (409) if the deal changed."
    )
    name: Text | None = Field(None, min_length=1, max_length=200)
    amount: Money | None = None
    probability: StrictInt | None = Field(None, ge=0, le=100)
    expected_close_date: InRangeDate | None = None
    next_step: Text | None = Field(None, max_length=200)
    next_step_date: InRangeDate | None = None
    source: SourceChoice | None = Field(
        None,
        description='A deal created from a marketing handoff keeps "marketing" (422 otherwise); "marketing" '
        "on any other deal is self-reported and not counted in 商談化数.",
    )
    owner_id: Id | None = None
    stage_id: Id | None = Field(
        None,
        description="An open stage moves (and reopens) the deal; the won stage closes it with won_amount (or "
        "amount), the lost stage with loss_cause and loss_side. Won and lost never flip without reopening.",
    )
    won_amount: Money | None = None
    loss_cause: LossCauseChoice | None = None
    loss_side: LossSideChoice | None = None
    loss_note: Text | None = Field(None, max_length=2000)
    custom: dict[str, Any] | None = custom_in()


class DealOut(Schema):
    id: int
    name: str
    company_id: int | None
    company_name: str | None
    contact_lead_id: int | None
    owner_id: int
    team_id: int | None
    pipeline_id: int
    stage_id: int
    stage_name_ja: str
    stage_name_en: str
    status: str
    amount: Decimal
    probability: int
    expected_close_date: dt.date
    source: str
    handoff_id: int | None
    first_touch_campaign_id: int | None
    next_step: str
    next_step_date: dt.date | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    won_amount: Decimal | None
    loss_cause: str
    loss_side: str
    loss_note: str
    version: int
    updated_at: dt.datetime
    custom: dict[str, Any] = Field(description="Custom field values by key (the fields offered to the API).")


class ErrorOut(Schema):
    detail: str


class ConflictOut(Schema):
    detail: str
    deal: DealOut


def _out(deal: Deal, request: HttpRequest | None = None) -> DealOut:
    return DealOut(
        custom=custom_out(request, "deal", deal.custom),
        id=deal.pk,
        name=deal.name,
        company_id=deal.company_id,
        company_name=deal.company.name if deal.company_id else None,
        contact_lead_id=deal.contact_id,
        owner_id=deal.owner_id,
        team_id=deal.team_id,
        pipeline_id=deal.stage.pipeline_id,
        stage_id=deal.stage_id,
        stage_name_ja=deal.stage.name_ja,
        stage_name_en=deal.stage.name_en,
        status=deal.status,
        amount=deal.amount,
        probability=deal.probability,
        expected_close_date=deal.expected_close_date,
        source=deal.source,
        handoff_id=deal.handoff_id,
        first_touch_campaign_id=deal.first_touch_campaign_id,
        next_step=deal.next_step,
        next_step_date=deal.next_step_date,
        created_at=deal.created_at,
        closed_at=deal.closed_at,
        won_amount=deal.won_amount,
        loss_cause=deal.loss_cause,
        loss_side=deal.loss_side,
        loss_note=deal.loss_note,
        version=deal.version,
        updated_at=deal.updated_at,
    )


def _invalid(field: str, message: str) -> ApiValidationError:
    return ApiValidationError([{"loc": ["body", field], "msg": message, "type": "value_error"}])


# The closing service names its arguments; the API names its fields.
CLOSE_FIELDS = {
    "amount": "won_amount",
    "cause": "loss_cause",
    "side": "loss_side",
    "note": "loss_note",
    "stage": "stage_id",
}


def _from_service(error: DjangoValidationError, fields: dict[str, str] | None = None) -> ApiValidationError:
    fields = fields or {}
    if hasattr(error, "error_dict"):
        return ApiValidationError(
            [
                {
                    "loc": error_loc(field, fields),
                    "msg": message,
                    "type": "value_error",
                }
                for field, messages in error.message_dict.items()
                for message in messages
            ]
        )
    return ApiValidationError([{"loc": ["body"], "msg": m, "type": "value_error"} for m in error.messages])


def _acting(request: HttpRequest) -> tuple[ApiKey, User | None]:
    key = require_scope(request, ApiKey.Scope.DEALS_WRITE)
    return key, key.user


def _deal(user: User | None, deal_id: int, *, read: bool = False) -> Deal:
    """The deal, for a write the deals `user` may act on; for a read (`read`) also those they only read, as on
    the deal page (marketing reads every deal)."""
    if user is None:
        qs = Deal.objects.all()
    elif read:
        qs = Deal.objects.readable_by(user)
    else:
        qs = Deal.objects.visible_to(user)
    deal = qs.select_related("company", "stage").filter(pk=deal_id).first()
    if deal is None:
        raise HttpError(404, "Deal not found.")
    return deal


def _owner(user: User | None, owner_id: int | None) -> User:
    if owner_id is None:
        if user is None:
            raise _invalid("owner_id", "This key acts for no user: give owner_id.")
        return user
    owner = User.objects.filter(pk=owner_id, is_active=True).select_related("team").first()
    if owner is None:
        raise _invalid("owner_id", "No active user has this id.")
    if (
        user is not None
        and owner.pk != user.pk
        and owner.pk not in {u.pk for u in selectors.owners_for(user)}
    ):
        raise _invalid("owner_id", "The key's user cannot give deals to this user.")
    return owner


class DealFilters(SinceQuery):
    status: Literal["open", "won", "lost"] | None = None
    owner: int | None = Field(None, ge=1, le=2**63 - 1, description="The owner's user id.")
    team: int | None = Field(None, ge=1, le=2**63 - 1, description="The owner's team id.")
    pipeline: int | None = Field(None, ge=1, le=2**63 - 1)
    stage: int | None = Field(None, ge=1, le=2**63 - 1)
    company: int | None = Field(None, ge=1, le=2**63 - 1)
    lead: int | None = Field(None, ge=1, le=2**63 - 1, description="The contact lead's id.")


@router.get("/deals", response=Page[DealOut], summary="List deals, newest first")
def list_deals(request: HttpRequest, filters: Query[DealFilters]):
    """The deals the key's user reads on the board and the deal pages (a rep their own, a manager the team's,
    marketing and admins every deal); every deal for an integration's key. Needs `deals:write`."""
    _key, user = _acting(request)
    qs = Deal.objects.all() if user is None else Deal.objects.readable_by(user)
    qs = qs.select_related("company", "stage")
    wanted = {
        "status": filters.status,
        "owner_id": filters.owner,
        "team_id": filters.team,
        "stage__pipeline_id": filters.pipeline,
        "stage_id": filters.stage,
        "company_id": filters.company,
        "contact_id": filters.lead,
    }
    qs = qs.filter(**{name: value for name, value in wanted.items() if value is not None})
    rows, next_cursor = cursor_page(since_filtered(qs, filters), filters)
    return {"items": [_out(deal, request) for deal in rows], "next_cursor": next_cursor}


@router.post("/deals", response={201: DealOut, 404: ErrorOut, 409: ErrorOut}, summary="Create a deal")
def create_deal(request: HttpRequest, payload: DealIn):
    _key, user = _acting(request)
    owner = _owner(user, payload.owner_id)
    contact = None
    if payload.contact_lead_id is not None:
        leads = Lead.objects.all() if user is None else Lead.objects.contactable_by(user)
        contact = leads.filter(pk=payload.contact_lead_id).first()
        if contact is None:
            raise _invalid("contact_lead_id", "No lead has this id.")
    company = None
    if payload.company_id is not None:
        # A rep's key attaches the companies the rep sees (another team's answers as none), or the contact's own.
        companies = Company.objects.all() if user is None else selectors.companies_visible_to(user)
        company = companies.filter(pk=payload.company_id).first()
        if company is None and contact is not None and contact.company_id == payload.company_id:
            company = contact.company
        if company is None:
            raise _invalid("company_id", "No company has this id.")
    elif payload.company_name:
        company = services.deal_company_resolve(name=payload.company_name, owner=owner, viewer=user)
    if contact is not None:
        company = company or contact.company
    stage = None
    if payload.stage_id is not None:
        stage = Stage.objects.filter(pk=payload.stage_id).first()
        if stage is None:
            raise _invalid("stage_id", "No stage has this id.")
    try:
        deal = services.deal_create(
            name=payload.name,
            owner=owner,
            by=user,
            company=company,
            contact=contact,
            stage=stage,
            amount=payload.amount,
            probability=payload.probability,
            expected_close_date=payload.expected_close_date,
            source=payload.source,
            next_step=payload.next_step,
            next_step_date=payload.next_step_date,
            custom=payload.custom or {},  # a new deal must have its required fields
            custom_place="in_api",
        )
    except DjangoValidationError as error:
        raise _from_service(error) from None
    except IntegrityError:
        raise HttpError(409, "The deal conflicts with existing data.") from None
    return Status(201, _out(_deal(None, deal.pk), request))


def _etag(deal: Deal) -> str:
    return f'"{deal.version}"'


def _if_match(request: HttpRequest) -> int | None:
    """The version in an If-Match header (`"3"`, `W/"3"` or `3`); None without one or for `*`."""
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        return None
    match = re.fullmatch(r'(?:W/)?"?([0-9]{1,10})"?', header)
    if match is None:
        raise ApiValidationError(
            [
                {
                    "loc": ["header", "If-Match"],
                    "msg": "Give the deal's version (its ETag).",
                    "type": "value_error",
                }
            ]
        )
    return int(match.group(1))


@router.get("/deals/{deal_id}", response={200: DealOut, 404: ErrorOut}, summary="Read a deal")
def get_deal(request: HttpRequest, deal_id: int, response: HttpResponse):
    _key, user = _acting(request)
    deal = _deal(user, deal_id, read=True)
    response["ETag"] = _etag(deal)
    return _out(deal, request)


def _patch_changes(user: User | None, data: dict[str, Any]) -> None:
    """The body's field changes as deal_update's arguments (in place): the owner by id, no nulls, the custom
    values checked against the fields offered to the API."""
    if "owner_id" in data:
        data["owner"] = _owner(user, data.pop("owner_id"))
    for field in ("name", "amount", "probability", "expected_close_date", "source"):
        if field in data and data[field] is None:
            raise _invalid(field, "This field cannot be null.")
    if "custom" in data:
        if data["custom"] is None:
            data.pop("custom")
        else:
            data["custom_place"] = "in_api"


@router.patch(
    "/deals/{deal_id}",
    response={200: DealOut, 404: ErrorOut, 409: ConflictOut},
    summary="Update a deal",
)
def update_deal(request: HttpRequest, deal_id: int, payload: DealPatch, response: HttpResponse):
    """Change fields; move to an open stage (a closed deal is reopened); close as won (`stage_id` of the won
    stage with `won_amount`) or as lost (the lost stage with `loss_cause` and `loss_side`). With the version the
    client saw (`If-Match` or `version`), a deal changed since answers 409 with the deal as it is now."""
    _key, user = _acting(request)
    deal = _deal(user, deal_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    header_version = _if_match(request)
    if version is not None and header_version is not None and version != header_version:
        raise _invalid("version", "The version and the If-Match header disagree.")
    version = version if version is not None else header_version
    stage_id = data.pop("stage_id", None)
    close = {k: data.pop(k) for k in ("won_amount", "loss_cause", "loss_side", "loss_note") if k in data}
    _patch_changes(user, data)

    stage = None
    if stage_id is not None:
        stage = Stage.objects.filter(pk=stage_id, pipeline_id=deal.stage.pipeline_id).first()
        if stage is None:
            raise _invalid("stage_id", "No stage with this id in the deal's pipeline.")
    elif close:
        raise _invalid("stage_id", "won_amount and loss_* apply when stage_id is the won or lost stage.")

    closing = services.Closing(
        amount=close.get("won_amount"),
        cause=close.get("loss_cause") or "",
        side=close.get("loss_side") or "",
        note=close.get("loss_note") or "",
    )
    try:
        deal = services.deal_edit(
            deal=deal, by=user, version=version, changes=data, stage=stage, closing=closing
        )
    except services.DealChangedError:
        current = _deal(None, deal_id)
        response["ETag"] = _etag(current)
        return Status(
            409,
            ConflictOut(
                detail="The deal changed since this version; read it again.", deal=_out(current, request)
            ),
        )
    except services.StageChangeInvalid as error:
        raise _from_service(error, CLOSE_FIELDS) from None
    except DjangoValidationError as error:
        raise _from_service(error) from None
    except IntegrityError:
        raise HttpError(409, "The update conflicts with the deal's current state.") from None
    deal = _deal(None, deal.pk)
    response["ETag"] = _etag(deal)
    return _out(deal, request)
