"""Segments over the JSON API: CRUD, a count, the members (keyset-paginated), a static list's members.

Reads need `segments:read` (members also `leads:read`: they are people's data); writes need `segments:write`,
and a key acting as a user also needs that user's right to build segments (marketing, managers, admins; 403
otherwise). Segments are shared like campaigns; their members are only the leads the key's user may see (a key
acting as a rep counts and lists only the team's leads; adding another team's lead answers 404). Invalid rules
answer 422 with each error's location under the body (`["body", "payload", "rules", "rules", 0, "value"]`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as ApiValidationError
from pydantic import ConfigDict, StrictInt

from leads.ingest import Text
from leads.models import Lead
from nurture.models import Segment, SegmentKind
from nurture.segments import selectors, services
from nurture.segments.rules import RuleError, validate
from salesmarketing.api import require_scope
from salesmarketing.models import ApiKey, User

router = Router(tags=["segments"])

MAX_IDS = 1000
BIGINT = 2**63 - 1
Id = StrictInt


class SegmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(..., min_length=1, max_length=200)
    kind: Literal["dynamic", "static"] = "dynamic"
    rules: dict[str, Any] | None = Field(
        None,
        description='Dynamic segments: {"op": "and"|"or", "rules": [rule or group, …]}; a rule is '
        '{"field", "op", "value"} or a touch rule {"field": "touch", "op": "exists"|"not_exists", "type", '
        '"campaign", "url", "days"}.',
    )


class SegmentPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(None, min_length=1, max_length=200)
    rules: dict[str, Any] | None = None


class RulesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rules: dict[str, Any]


class SegmentOut(Schema):
    id: int
    name: str
    kind: str
    rules: dict[str, Any]
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CountOut(Schema):
    count: int = Field(description="The members the key may see.")
    total: int = Field(description="Every member; more than `count` only for a key acting as a sales rep.")


class MemberOut(Schema):
    id: int
    email: str
    name: str
    company_id: int | None
    lifecycle_stage: str
    awareness_stage: str
    total_score: int
    consent_email: bool


class MembersOut(Schema):
    items: list[MemberOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


class LeadIdsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lead_ids: list[Id] = Field(..., min_length=1, max_length=MAX_IDS)


class ChangedOut(Schema):
    changed: int


class ErrorOut(Schema):
    detail: str


class PageQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    after: int | None = Field(None, ge=1, le=BIGINT, description="The `next_after` of the previous page.")


def _viewer(key: ApiKey) -> User | None:
    return None if key.is_integration else key.user


def _writer(request: HttpRequest) -> ApiKey:
    key = require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    user = _viewer(key)
    if user is not None and not selectors.can_edit(user):
        raise HttpError(403, "This key's user may not change segments.")
    return key


def _rules_422(errors: list[RuleError]) -> ApiValidationError:
    return ApiValidationError(
        [
            {"loc": ["body", "payload", "rules", *error.loc], "msg": error.msg, "type": "value_error"}
            for error in errors
        ]
    )


def _check_ids(lead_ids: list[int]) -> list[int]:
    if any(pk < 1 or pk > BIGINT for pk in lead_ids):
        raise ApiValidationError(
            [
                {
                    "loc": ["body", "payload", "lead_ids"],
                    "msg": "Ids are positive integers.",
                    "type": "value_error",
                }
            ]
        )
    return lead_ids


@router.get("/segments", response=list[SegmentOut], summary="List segments")
def segments_list(request: HttpRequest):
    require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    return list(selectors.segment_list())


@router.post("/segments", response={201: SegmentOut, 403: ErrorOut}, summary="Create a segment")
def segments_create(request: HttpRequest, payload: SegmentIn):
    key = _writer(request)
    try:
        segment = services.segment_create(
            name=payload.name, kind=payload.kind, rules=payload.rules, by=_viewer(key)
        )
    except services.RulesInvalid as exc:
        raise _rules_422(exc.rule_errors) from exc
    return Status(201, segment)


@router.post("/segments/count", response=CountOut, summary="Count the leads some rules match, without saving")
def segments_rules_count(request: HttpRequest, payload: RulesIn):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    errors = validate(payload.rules)
    if errors:
        raise _rules_422(errors)
    count = selectors.leads_count(selectors.rules_leads(payload.rules), _viewer(key))
    return {"count": count.visible, "total": count.total}


@router.get("/segments/{int:segment_id}", response={200: SegmentOut, 404: ErrorOut}, summary="Read a segment")
def segments_read(request: HttpRequest, segment_id: int):
    require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    return get_object_or_404(Segment, pk=segment_id)


@router.patch(
    "/segments/{int:segment_id}",
    response={200: SegmentOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a segment",
)
def segments_update(request: HttpRequest, segment_id: int, payload: SegmentPatch):
    _writer(request)
    with transaction.atomic():
        segment = get_object_or_404(Segment.objects.select_for_update(), pk=segment_id)
        if payload.rules is not None and segment.kind == SegmentKind.STATIC:
            raise ApiValidationError(
                [
                    {
                        "loc": ["body", "payload", "rules"],
                        "msg": "A static segment has no rules.",
                        "type": "value_error",
                    }
                ]
            )
        try:
            return services.segment_update(segment=segment, name=payload.name, rules=payload.rules)
        except services.RulesInvalid as exc:
            raise _rules_422(exc.rule_errors) from exc


@router.delete(
    "/segments/{int:segment_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete a segment",
)
def segments_delete(request: HttpRequest, segment_id: int):
    _writer(request)
    services.segment_delete(segment=get_object_or_404(Segment, pk=segment_id))
    return Status(204, None)


@router.get(
    "/segments/{int:segment_id}/count",
    response={200: CountOut, 404: ErrorOut},
    summary="Count a segment's members",
)
def segments_count(request: HttpRequest, segment_id: int):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    count = selectors.segment_count(segment=get_object_or_404(Segment, pk=segment_id), viewer=_viewer(key))
    return {"count": count.visible, "total": count.total}


@router.get(
    "/segments/{int:segment_id}/members",
    response={200: MembersOut, 404: ErrorOut},
    summary="List a segment's members",
    description="Newest lead first, 50 per page; pass `after` from the previous page's `next_after`. Needs "
    "`segments:read` and `leads:read`.",
)
def segments_members(request: HttpRequest, segment_id: int, query: Query[PageQuery]):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    require_scope(request, ApiKey.Scope.LEADS_READ)
    segment = get_object_or_404(Segment, pk=segment_id)
    page = selectors.segment_member_page(segment=segment, viewer=_viewer(key), after=query.after)
    return {"items": page.leads, "next_after": page.next_after}


def _static(segment_id: int) -> Segment:
    segment = get_object_or_404(Segment, pk=segment_id)
    if segment.kind != SegmentKind.STATIC:
        raise ApiValidationError(
            [
                {
                    "loc": ["path", "segment_id"],
                    "msg": "Only a static segment has a list of members.",
                    "type": "value_error",
                }
            ]
        )
    return segment


@router.post(
    "/segments/{int:segment_id}/members",
    response={200: ChangedOut, 403: ErrorOut, 404: ErrorOut},
    summary="Add leads to a static segment",
    description="404 when a lead does not exist or the key's user may not see it (nothing is added then).",
)
def segments_members_add(request: HttpRequest, segment_id: int, payload: LeadIdsIn):
    key = _writer(request)
    segment = _static(segment_id)
    ids = set(_check_ids(payload.lead_ids))
    viewer = _viewer(key)
    leads = Lead.objects.filter(pk__in=ids)
    if (leads if viewer is None else leads.visible_to(viewer)).count() != len(ids):
        raise HttpError(404, "Lead not found.")
    return {"changed": services.segment_members_add(segment=segment, lead_ids=ids, viewer=viewer)}


@router.post(
    "/segments/{int:segment_id}/members/remove",
    response={200: ChangedOut, 403: ErrorOut, 404: ErrorOut},
    summary="Remove leads from a static segment",
)
def segments_members_remove(request: HttpRequest, segment_id: int, payload: LeadIdsIn):
    _writer(request)
    segment = _static(segment_id)
    return {
        "changed": services.segment_members_remove(segment=segment, lead_ids=_check_ids(payload.lead_ids))
    }
