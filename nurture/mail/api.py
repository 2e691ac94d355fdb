"""Email templates and broadcasts over the JSON API: what the 配信 and テンプレート pages do.

Read with `segments:read`, changed with `segments:write` (nurture's scopes, as for segments and sequences); a key
acting as a user also needs that user's right to manage email (403 otherwise). A template's syntax error answers
422 with the field and its line (`["body", "payload", "<field>"]`); a refused transition (scheduling without a
sender profile, pausing a draft) answers 409 with the reason.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as ApiValidationError
from pydantic import ConfigDict, StrictInt

from leads.models import Campaign
from nurture.mail import selectors, services
from nurture.models import Broadcast, EmailTemplate, Segment
from salesmarketing.api import require_scope
from salesmarketing.dates import InRangeDatetime
from salesmarketing.models import ApiKey, User

router = Router(tags=["email"])


class TemplateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    subject_ja: str = Field("", max_length=300)
    html_ja: str = ""
    text_ja: str = ""
    subject_en: str = Field("", max_length=300)
    html_en: str = ""
    text_en: str = ""


class TemplatePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    subject_ja: str | None = Field(None, max_length=300)
    html_ja: str | None = None
    text_ja: str | None = None
    subject_en: str | None = Field(None, max_length=300)
    html_en: str | None = None
    text_en: str | None = None


class TemplateOut(Schema):
    id: int
    name: str
    subject_ja: str
    html_ja: str
    text_ja: str
    subject_en: str
    html_en: str
    text_en: str
    updated_at: dt.datetime


class BroadcastIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    template_id: StrictInt = Field(..., ge=1)
    segment_id: StrictInt = Field(..., ge=1)
    campaign_id: StrictInt = Field(..., ge=1)
    language: str = Field("ja", pattern="^(ja|en)$")
    throttle_per_minute: StrictInt | None = Field(None, ge=1, le=100_000)


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: InRangeDatetime | None = None


class ProgressOut(Schema):
    total: int
    pending: int
    sending: int
    sent: int
    failed: int
    unknown: int
    skipped: int
    skipped_by_reason: dict[str, int]


class OutcomesOut(Schema):
    sent: int
    delivered: int
    bounced: int
    opened: int
    clicked: int
    unsubscribed: int
    mql: int


class BroadcastOut(Schema):
    id: int
    name: str
    template_id: int
    segment_id: int
    campaign_id: int
    language: str
    throttle_per_minute: int
    status: str
    status_note: str
    scheduled_at: dt.datetime | None
    frozen_at: dt.datetime | None
    finished_at: dt.datetime | None


class BroadcastDetailOut(BroadcastOut):
    progress: ProgressOut
    outcomes: OutcomesOut


class ErrorOut(Schema):
    detail: str


def key_user(key: ApiKey) -> User | None:
    """The user a key acts as (None for an integration's key)."""
    return None if key.is_integration else key.user


def mail_key(request: HttpRequest, scope: str) -> ApiKey:
    """The request's key with `scope`, acting for someone who manages marketing email (403 otherwise: sales reps).
    Sequences' operations check the same."""
    key = require_scope(request, scope)
    user = key_user(key)
    if user is not None and not selectors.can_manage_mail(user):
        raise HttpError(403, "This key's user may not manage marketing email.")
    return key


def _writer(request: HttpRequest) -> ApiKey:
    return mail_key(request, ApiKey.Scope.SEGMENTS_WRITE)


def _reader(request: HttpRequest) -> ApiKey:
    return mail_key(request, ApiKey.Scope.SEGMENTS_READ)


def _field_errors(exc: ValidationError) -> ApiValidationError:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return ApiValidationError(
        [
            {
                "loc": ["body", "payload", *([] if field == "__all__" else [field])],
                "msg": msg,
                "type": "value_error",
            }
            for field, messages in errors.items()
            for msg in messages
        ]
    )


def _detail(broadcast: Broadcast) -> dict:
    outcomes = selectors.broadcast_outcomes(broadcast)
    return {
        **BroadcastOut.from_orm(broadcast).dict(),
        "progress": vars(selectors.broadcast_progress(broadcast)),
        "outcomes": {**vars(outcomes), "delivered": outcomes.delivered},
    }


# --- Templates ---------------------------------------------------------------------------------------------------


@router.get(
    "/email-templates", response={200: list[TemplateOut], 403: ErrorOut}, summary="List email templates"
)
def templates_list(request: HttpRequest):
    _reader(request)
    return list(selectors.template_list())


@router.post(
    "/email-templates", response={201: TemplateOut, 403: ErrorOut}, summary="Create an email template"
)
def templates_create(request: HttpRequest, payload: TemplateIn):
    key = _writer(request)
    try:
        template = services.email_template_save(by=key_user(key), **payload.dict())
    except ValidationError as exc:
        raise _field_errors(exc) from exc
    return Status(201, template)


@router.get(
    "/email-templates/{int:template_id}",
    response={200: TemplateOut, 403: ErrorOut, 404: ErrorOut},
    summary="Read an email template",
)
def templates_read(request: HttpRequest, template_id: int):
    _reader(request)
    return get_object_or_404(EmailTemplate, pk=template_id)


@router.patch(
    "/email-templates/{int:template_id}",
    response={200: TemplateOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change an email template",
)
def templates_update(request: HttpRequest, template_id: int, payload: TemplatePatch):
    key = _writer(request)
    template = get_object_or_404(EmailTemplate, pk=template_id)
    values = {name: value for name, value in payload.dict().items() if value is not None}
    try:
        return services.email_template_save(template=template, by=key_user(key), **values)
    except ValidationError as exc:
        raise _field_errors(exc) from exc


# --- Broadcasts --------------------------------------------------------------------------------------------------


@router.get("/broadcasts", response={200: list[BroadcastOut], 403: ErrorOut}, summary="List broadcasts")
def broadcasts_list(request: HttpRequest):
    _reader(request)
    return list(selectors.broadcast_list())


@router.post(
    "/broadcasts",
    response={201: BroadcastDetailOut, 403: ErrorOut, 404: ErrorOut},
    summary="Create a broadcast (a draft)",
)
def broadcasts_create(request: HttpRequest, payload: BroadcastIn):
    key = _writer(request)
    try:
        broadcast = services.broadcast_create(
            by=key_user(key),
            name=payload.name,
            template=get_object_or_404(EmailTemplate, pk=payload.template_id),
            segment=get_object_or_404(Segment, pk=payload.segment_id),
            campaign=get_object_or_404(Campaign, pk=payload.campaign_id),
            language=payload.language,
            throttle_per_minute=payload.throttle_per_minute,
        )
    except ValidationError as exc:
        raise _field_errors(exc) from exc
    return Status(201, _detail(broadcast))


@router.get(
    "/broadcasts/{int:broadcast_id}",
    response={200: BroadcastDetailOut, 403: ErrorOut, 404: ErrorOut},
    summary="A broadcast with its progress and what became of its messages",
)
def broadcasts_read(request: HttpRequest, broadcast_id: int):
    _reader(request)
    return _detail(get_object_or_404(Broadcast, pk=broadcast_id))


@router.post(
    "/broadcasts/{int:broadcast_id}/schedule",
    response={200: BroadcastDetailOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Schedule a draft broadcast (now, or at scheduled_at)",
)
def broadcasts_schedule(request: HttpRequest, broadcast_id: int, payload: ScheduleIn):
    _writer(request)
    broadcast = get_object_or_404(Broadcast.objects.select_related("template"), pk=broadcast_id)
    try:
        services.broadcast_schedule(broadcast=broadcast, scheduled_at=payload.scheduled_at)
    except ValidationError as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    return _detail(broadcast)


ACTIONS = {
    "pause": services.broadcast_pause,
    "resume": services.broadcast_resume,
    "cancel": services.broadcast_cancel,
}


@router.post(
    "/broadcasts/{int:broadcast_id}/{action}",
    response={200: BroadcastDetailOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Pause, resume or cancel a broadcast",
)
def broadcasts_action(request: HttpRequest, broadcast_id: int, action: str):
    _writer(request)
    service = ACTIONS.get(action)
    broadcast = get_object_or_404(Broadcast, pk=broadcast_id)
    if service is None:
        return Status(404, {"detail": "Unknown action: use pause, resume or cancel."})
    try:
        service(broadcast=broadcast)
    except ValidationError as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    broadcast.refresh_from_db()
    return _detail(broadcast)
