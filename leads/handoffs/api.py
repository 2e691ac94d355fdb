"""Handoffs in the JSON API: list, accept, reject (scope handoffs:write).

A key acting as a user reaches the handoffs that user reaches on the handoffs page (404 for the others); a key
without a user is the integration's and reaches every handoff."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from leads.handoffs.selectors import handoffs_actionable_by, handoffs_visible_to
from leads.handoffs.services import HandoffConflict, handoff_accept, handoff_reject
from leads.ingest import Text
from leads.models import Handoff
from salesmarketing.api import Page, SinceQuery, page_out, require_scope, since_filtered
from salesmarketing.models import ApiKey

router = Router(tags=["handoffs"])

State = Literal["unassigned", "assigned", "working", "accepted", "rejected", "open"]
Reason = Literal[
    "not_a_fit",
    "no_budget",
    "bad_contact",
    "already_customer",
    "too_early",
    "competitor",
    "duplicate",
    "other",
]


class HandoffOut(Schema):
    id: int
    lead_id: int
    lead_email: str = Field(..., alias="lead.email")
    owner_id: int | None
    team_id: int | None
    state: str
    score_at_handoff: int
    fit_at_handoff: int
    reason: str = Field(..., description="Why the lead is hot: the rules that gave the most points.")
    campaign_id: int | None
    mql_at: dt.datetime
    assigned_at: dt.datetime | None
    sla_due_at: dt.datetime | None
    first_touch_at: dt.datetime | None
    decided_at: dt.datetime | None
    reject_reason: str
    reject_note: str
    deal_id: int | None = None

    @staticmethod
    def resolve_deal_id(obj: Handoff) -> int | None:
        # The reverse one-to-one of pipeline's Deal.handoff; None when the handoff has no deal.
        deal = getattr(obj, "deal", None)
        return deal.pk if deal is not None else None


class HandoffFilters(SinceQuery):
    state: State | None = Field(None, description="`open`: unassigned, assigned or working.")
    owner: int | None = Field(None, ge=1, le=2**63 - 1, description="The rep's user id.")
    lead: int | None = Field(None, ge=1, le=2**63 - 1, description="The lead's id.")


class RejectIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    note: Text = Field("", max_length=2000)


class ErrorOut(Schema):
    detail: str


def _queryset():
    return Handoff.objects.select_related("lead", "deal")


def _for_key(key: ApiKey, *, acting: bool = False):
    """A key acting as a user lists what that user sees on the handoffs page and acts on what they may act on
    there (404 for the rest, as in the app); a key without a user is the integration's and reaches every one."""
    qs = _queryset()
    if key.is_integration:
        return qs
    allowed = (handoffs_actionable_by if acting else handoffs_visible_to)(key.user)
    return qs.filter(pk__in=allowed.values("pk"))


@router.get("/handoffs", response=Page[HandoffOut], summary="List handoffs, newest MQL first")
def list_handoffs(request: HttpRequest, filters: Query[HandoffFilters]):
    qs = _for_key(require_scope(request, ApiKey.Scope.HANDOFFS_WRITE))
    if filters.state == "open":
        qs = qs.filter(state__in=Handoff.OPEN_STATES)
    elif filters.state:
        qs = qs.filter(state=filters.state)
    if filters.owner is not None:
        qs = qs.filter(owner_id=filters.owner)
    if filters.lead is not None:
        qs = qs.filter(lead_id=filters.lead)
    return page_out(since_filtered(qs, filters), filters, keys=("mql_at", "pk"))


@router.post(
    "/handoffs/{handoff_id}/accept",
    response={200: HandoffOut, 404: ErrorOut, 409: ErrorOut},
    summary="Accept: the lead becomes an SQL and a deal is created (idempotent)",
)
def accept(request: HttpRequest, handoff_id: int):
    key = require_scope(request, ApiKey.Scope.HANDOFFS_WRITE)
    handoff = get_object_or_404(_for_key(key, acting=True), pk=handoff_id)
    try:
        handoff_accept(handoff=handoff, by=key.user)
    except HandoffConflict as exc:
        raise HttpError(409, str(exc)) from exc
    return _queryset().get(pk=handoff_id)


@router.post(
    "/handoffs/{handoff_id}/reject",
    response={200: HandoffOut, 404: ErrorOut, 409: ErrorOut},
    summary="Reject with a structured reason (idempotent)",
)
def reject(request: HttpRequest, handoff_id: int, payload: RejectIn):
    key = require_scope(request, ApiKey.Scope.HANDOFFS_WRITE)
    handoff = get_object_or_404(_for_key(key, acting=True), pk=handoff_id)
    if payload.reason == "other" and not payload.note.strip():
        raise HttpError(422, "A note is required when the reason is 'other'.")
    try:
        handoff_reject(handoff=handoff, by=key.user, reason=payload.reason, note=payload.note)
    except HandoffConflict as exc:
        raise HttpError(409, str(exc)) from exc
    return _queryset().get(pk=handoff_id)
