"""Writes for email: the sender profile, templates, a test send, and a broadcast's life (schedule, pause, resume,
cancel). Sending itself is nurture.mail.sending, run by nurture.mail.tasks."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Campaign, Lead
from nurture.mail import rendering
from nurture.mail.selectors import sender_profile
from nurture.mail.tasks import broadcast_send_batch, broadcast_start
from nurture.models import (
    Broadcast,
    BroadcastSend,
    BroadcastStatus,
    EmailTemplate,
    Segment,
    SenderProfile,
    SendStatus,
    SkipReason,
)
from salesmarketing.models import User

PROFILE_FIELDS = ("sender_name", "from_email", "postal_address", "complaints_contact")
TEMPLATE_FIELDS = ("name", "subject_ja", "html_ja", "text_ja", "subject_en", "html_en", "text_en")


def require_sender_profile() -> SenderProfile:
    """The profile, or a ValidationError naming what is missing (no marketing message goes out without it)."""
    profile = sender_profile()
    missing = profile.missing_fields()
    if missing:
        raise ValidationError(
            _("Sending is refused until the sender profile has: %(fields)s.")
            % {"fields": ", ".join(missing)},
            code="sender_profile",
        )
    return profile


@transaction.atomic
def sender_profile_update(*, by: User, **values: str) -> SenderProfile:
    profile = SenderProfile.objects.select_for_update().filter(pk=1).first() or SenderProfile(pk=1)
    for name in PROFILE_FIELDS:
        if name in values:
            setattr(profile, name, values[name].strip())
    profile.updated_by = by
    profile.full_clean()
    profile.save()
    return profile


def _check_template(template: EmailTemplate) -> None:
    errors = rendering.template_errors(template)
    if errors:
        raise ValidationError(
            {
                e.field: ValidationError(
                    _("Line %(line)s: %(message)s") % {"line": e.line, "message": e.message}, code="syntax"
                )
                for e in errors
            }
        )
    if not template.languages():
        raise ValidationError(_("Write a subject and a text body in at least one language."), code="empty")


@transaction.atomic
def email_template_save(
    *, template: EmailTemplate | None = None, by: User | None, **values: str
) -> EmailTemplate:
    """Create (template None) or update a template; syntax errors come back per field with their line."""
    if template is None:
        template = EmailTemplate(created_by=by)
    for name in TEMPLATE_FIELDS:
        if name in values:
            setattr(template, name, values[name])
    template.full_clean()
    _check_template(template)
    template.save()
    return template


def email_test_send(*, template: EmailTemplate, language: str, lead: Lead, to_user: User) -> None:
    """The template rendered for `lead`, sent through the real backend to the user's own address (no tracking:
    a test send's opens and clicks are not the lead's)."""
    profile = require_sender_profile()
    if not to_user.email:
        raise ValidationError(_("Your account has no email address to send the test to."), code="no_email")
    _check_template(template)
    if language not in template.languages():
        raise ValidationError(_("This template has no version in that language."), code="language")
    domain = profile.from_email.rpartition("@")[2]
    envelope = rendering.Envelope(lead=lead, message_id=f"<test-{uuid.uuid4().hex}@{domain}>", tracking=None)
    message = rendering.build_message(
        template, language=language, profile=profile, envelope=envelope, to=to_user.email
    )
    message.subject = _("[Test] %(subject)s") % {"subject": message.subject}
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([message])


# --- Broadcasts ------------------------------------------------------------------------------------------------


@transaction.atomic
def broadcast_create(
    *,
    by: User | None,
    name: str,
    template: EmailTemplate,
    segment: Segment,
    campaign: Campaign,
    language: str = "ja",
    scheduled_at: dt.datetime | None = None,
    throttle_per_minute: int | None = None,
) -> Broadcast:
    broadcast = Broadcast(
        name=name,
        template=template,
        segment=segment,
        campaign=campaign,
        language=language,
        scheduled_at=scheduled_at,
        throttle_per_minute=throttle_per_minute or settings.BROADCAST_THROTTLE_PER_MINUTE,
        created_by=by,
    )
    broadcast.full_clean()
    broadcast.save()
    return broadcast


def broadcast_schedule(*, broadcast: Broadcast, scheduled_at: dt.datetime | None = None) -> Broadcast:
    """draft → scheduled, refused with the reason while the sender profile or the template is not ready.
    The start is queued for its time (and the beat's sweep starts it anyway if that message is lost)."""
    require_sender_profile()
    _check_template(broadcast.template)
    if broadcast.language not in broadcast.template.languages():
        raise ValidationError(_("The template has no version in the broadcast's language."), code="language")
    when = scheduled_at or broadcast.scheduled_at or timezone.now()
    with transaction.atomic():
        changed = Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.DRAFT).update(
            status=BroadcastStatus.SCHEDULED, scheduled_at=when, status_note=""
        )
        if not changed:
            raise ValidationError(_("Only a draft can be scheduled."), code="state")
        transaction.on_commit(lambda: broadcast_start.apply_async((broadcast.pk,), eta=when))
    broadcast.refresh_from_db()
    return broadcast


def broadcast_pause(*, broadcast: Broadcast) -> Broadcast:
    """sending → paused: no row is claimed after this (a message already handed to the server completes)."""
    _transition(broadcast, frm=(BroadcastStatus.SENDING,), to=BroadcastStatus.PAUSED)
    return broadcast


def broadcast_resume(*, broadcast: Broadcast) -> Broadcast:
    require_sender_profile()
    with transaction.atomic():
        _transition(
            broadcast, frm=(BroadcastStatus.PAUSED,), to=BroadcastStatus.SENDING, batch_started_at=None
        )
        transaction.on_commit(lambda: broadcast_send_batch.delay(broadcast.pk))
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast) -> Broadcast:
    """Any unfinished broadcast → cancelled; its rows not yet sent are skipped as cancelled."""
    _transition(
        broadcast,
        frm=(
            BroadcastStatus.DRAFT,
            BroadcastStatus.SCHEDULED,
            BroadcastStatus.SENDING,
            BroadcastStatus.PAUSED,
        ),
        to=BroadcastStatus.CANCELLED,
        finished_at=timezone.now(),
    )
    BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.PENDING).update(
        status=SendStatus.SKIPPED, skip_reason=SkipReason.CANCELLED
    )
    return broadcast


def _transition(broadcast: Broadcast, *, frm: tuple[str, ...], to: str, **fields) -> None:
    changed = Broadcast.objects.filter(pk=broadcast.pk, status__in=frm).update(
        status=to, status_note="", **fields
    )
    if not changed:
        broadcast.refresh_from_db(fields=["status"])
        raise ValidationError(
            _("The broadcast is %(status)s; that is not possible now.")
            % {"status": broadcast.get_status_display()},
            code="state",
        )
    broadcast.refresh_from_db()
