"""Sequences over the JSON API: list sequences, enrol a lead, a lead's enrolments, a sequence's enrolments, one
enrolment, exit an enrolment.

An enrolment says what the lead's timeline and the sequence page show of it: who enrolled the lead, who removed
it by hand (`ended_by_id`: the key's user when it was removed through the API), and for a lead enrolled because
sales rejected its handoff, that handoff and its rejection reason. Users' names: `GET /users`.

Sequences are marketing's email, read with `segments:read` and changed with `segments:write` (the scopes of
nurture's audience tools; a key acting as a user also needs that user's right to manage email: 403 otherwise).
Anything about a lead also needs `leads:read` and answers 404 for a lead the key's user may not see.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from leads.models import Lead
from nurture.mail.api import key_user, mail_key
from nurture.models import Enrolment, EnrolmentSource, Sequence
from nurture.sequences import selectors, services
from salesmarketing.api import require_scope
from salesmarketing.models import ApiKey

router = Router(tags=["sequences"])


class SequenceOut(Schema):
    id: int
    name: str
    status: str
    language: str
    campaign_id: int | None
    trigger_segment_id: int | None
    on_reject_too_early: bool
    on_reject_no_budget: bool
    step_count: int
    active_count: int


class EnrolIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lead_id: StrictInt = Field(..., ge=1, le=2**63 - 1)


class EnrolmentOut(Schema):
    id: int
    sequence_id: int
    lead_id: int
    state: str
    source: str
    exit_reason: str
    current_step_id: int | None
    next_send_at: dt.datetime | None
    enrolled_at: dt.datetime
    enrolled_by_id: int | None = Field(
        description="Who enrolled the lead (for a rejected handoff, the rep who rejected it); null when a "
        "segment or an integration's key did."
    )
    ended_at: dt.datetime | None
    ended_by_id: int | None = Field(
        description='Who removed the lead by hand (exit reason "removed"); null for the other exits and for an '
        "integration's key."
    )
    handoff_id: int | None = Field(
        description='The rejected handoff that enrolled the lead (source "handoff_rejected"), else null.'
    )
    handoff_reject_reason: str = Field(
        description='That handoff\'s rejection reason ("too_early", "no_budget"); empty without one.'
    )

    @staticmethod
    def resolve_handoff_reject_reason(obj: Enrolment) -> str:
        # selectors.ENROLMENT_RELATED joins the handoff: no query per row
        return obj.handoff.reject_reason if obj.handoff_id and obj.handoff else ""


class EnrolmentsOut(Schema):
    items: list[EnrolmentOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


class PageQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    after: int | None = Field(None, ge=1, le=2**63 - 1, description="The `next_after` of the previous page.")


class ErrorOut(Schema):
    detail: str


def _writer(request: HttpRequest) -> ApiKey:
    return mail_key(request, ApiKey.Scope.SEGMENTS_WRITE)


def _lead(key: ApiKey, lead_id: int) -> Lead:
    user = key_user(key)
    leads = Lead.objects.all() if user is None else Lead.objects.visible_to(user)
    lead = leads.filter(pk=lead_id).first()
    if lead is None:
        raise Http404
    return lead


@router.get("/sequences", response=list[SequenceOut], summary="List sequences")
def sequences_list(request: HttpRequest):
    require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    return list(selectors.sequence_list())


@router.post(
    "/sequences/{int:sequence_id}/enrolments",
    response={201: EnrolmentOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Enrol a lead in a sequence",
)
def sequences_enrol(request: HttpRequest, sequence_id: int, payload: EnrolIn):
    key = _writer(request)
    require_scope(request, ApiKey.Scope.LEADS_READ)
    sequence = get_object_or_404(Sequence, pk=sequence_id)
    lead = _lead(key, payload.lead_id)
    try:
        enrolment = services.enrol_lead(
            sequence=sequence, lead=lead, by=key_user(key), source=EnrolmentSource.API
        )
    except ValidationError as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    return Status(201, selectors.enrolment_read(enrolment.pk))


@router.get(
    "/leads/{int:lead_id}/enrolments",
    response={200: list[EnrolmentOut], 404: ErrorOut},
    summary="A lead's sequence enrolments",
)
def lead_enrolments(request: HttpRequest, lead_id: int):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    require_scope(request, ApiKey.Scope.LEADS_READ)
    lead = _lead(key, lead_id)
    return list(selectors.lead_enrolments(lead.pk))


@router.get(
    "/sequences/{int:sequence_id}/enrolments",
    response={200: EnrolmentsOut, 404: ErrorOut},
    summary="A sequence's enrolments",
    description="Newest first, 50 per page; pass `after` from the previous page's `next_after`. A key acting as a "
    "sales rep lists its team's leads only. Needs `segments:read` and `leads:read`.",
)
def sequence_enrolments(request: HttpRequest, sequence_id: int, query: Query[PageQuery]):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    require_scope(request, ApiKey.Scope.LEADS_READ)
    sequence = get_object_or_404(Sequence, pk=sequence_id)
    page = selectors.sequence_enrolments_after(sequence=sequence, viewer=key_user(key), after=query.after)
    return {"items": page.enrolments, "next_after": page.next_after}


@router.get(
    "/enrolments/{int:enrolment_id}",
    response={200: EnrolmentOut, 404: ErrorOut},
    summary="One enrolment",
)
def enrolments_read(request: HttpRequest, enrolment_id: int):
    key = require_scope(request, ApiKey.Scope.SEGMENTS_READ)
    require_scope(request, ApiKey.Scope.LEADS_READ)
    enrolment = selectors.enrolment_read(enrolment_id)
    if enrolment is None:
        raise Http404
    _lead(key, enrolment.lead_id)
    return enrolment


@router.post(
    "/enrolments/{int:enrolment_id}/exit",
    response={200: EnrolmentOut, 403: ErrorOut, 404: ErrorOut},
    summary="Take a lead out of a sequence",
    description='Ends an active enrolment with the reason "removed", recording the key\'s user as who removed the '
    "lead (`ended_by_id`; null for an integration's key). An enrolment already ended is answered as it is.",
)
def enrolments_exit(request: HttpRequest, enrolment_id: int):
    key = _writer(request)
    enrolment = get_object_or_404(Enrolment, pk=enrolment_id)
    _lead(key, enrolment.lead_id)
    services.enrolment_exit(enrolment=enrolment, by=key_user(key))
    return selectors.enrolment_read(enrolment.pk)
