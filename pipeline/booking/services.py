"""Booking writes: a meeting booked on a public page, the pages' settings, the invitation e-mails.

`booking_create` runs in one transaction that first locks the booking page of every rep who could take the slot
(ordered by id), reads their calendars again and only then writes: of two people booking the same slot at once,
the second waits for the first, finds the slot gone and gets `SlotTaken`; the unique (rep, start) constraint
backs that up. What it writes, all or nothing: the demo-request touch through leads' ingest (the lead created if
new, its consent and the proof of it kept as on the capture forms), the meeting activity on the rep's calendar,
the booking, a handoff to the rep for a lead nobody owns (leads.handoffs: SLA, log, notification), and one
invitation e-mail per person, sent after commit by the e-mail queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from email.mime.text import MIMEText

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from leads.choices import ConsentMethod, LeadSource, TouchType
from leads.handoffs.services import handoff_for_booked_meeting
from leads.ingest import events_ingest
from leads.models import Lead
from leads.services import lead_consent_proof_record
from pipeline.booking import selectors
from pipeline.booking.ics import Invitation, invitation_ics
from pipeline.booking.models import Booking, BookingInvitation, BookingPage, TeamBookingPage
from pipeline.models import Activity
from salesmarketing.celery import queue_task
from salesmarketing.models import Team, User

logger = logging.getLogger(__name__)


class SlotTaken(Exception):
    """The slot is no longer free (someone booked it first, or it was never offered)."""


@dataclass(frozen=True)
class Booker:
    """Who books, as typed on the public page."""

    email: str
    name: str
    company: str = ""
    phone: str = ""
    note: str = ""
    consent_email: bool = False
    consent_wording: str = ""  # the wording shown beside the box, in the page's language


def booking_create(
    *,
    starts_at: dt.datetime,
    booker: Booker,
    rep_page: BookingPage | None = None,
    team_page: TeamBookingPage | None = None,
    language: str = "ja",
    now: dt.datetime | None = None,
) -> Booking:
    """Book `starts_at` with the rep of `rep_page`, or with the team's next free rep (round robin) on
    `team_page`. Raises SlotTaken when nobody can take the slot any more, ValidationError for bad details."""
    if (rep_page is None) == (team_page is None):
        raise ValueError("book on a rep's page or on a team's page")
    now = now or timezone.now()
    with transaction.atomic():
        if rep_page is not None:
            pages = list(
                BookingPage.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(pk=rep_page.pk, is_active=True)
            )
            minutes, team = rep_page.meeting_minutes, None
        else:
            assert team_page is not None
            pages = list(
                BookingPage.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(pk__in=[p.pk for p in selectors.team_rep_pages(team_page)])
                .order_by("pk")
            )
            minutes, team = team_page.meeting_minutes, team_page.team
        free = [p for p in pages if selectors.is_free(p, starts_at, minutes=minutes, now=now)]
        if not free:
            raise SlotTaken(
                _("Sorry, this time was just booked by someone else. Please choose another time.")
            )
        rep = selectors.round_robin_order([p.user for p in free], now=now)[0]
        return _book(
            rep=rep,
            team=team,
            starts_at=starts_at,
            minutes=minutes,
            booker=booker,
            language=language,
            now=now,
        )


def _book(
    *,
    rep: User,
    team: Team | None,
    starts_at: dt.datetime,
    minutes: int,
    booker: Booker,
    language: str,
    now: dt.datetime,
) -> Booking:
    ends_at = starts_at + dt.timedelta(minutes=minutes)
    lead = _demo_request(rep=rep, starts_at=starts_at, booker=booker, now=now)
    with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site's language
        subject = _("Meeting booked online: %(name)s") % {"name": booker.name or booker.email}
        body = _("Booked on %(page)s. Message: %(note)s") % {
            "page": _("the team's booking page") if team else _("the rep's booking page"),
            "note": booker.note or "—",
        }
    activity = Activity.objects.create(
        lead=lead,
        type=Activity.Type.MEETING,
        subject=subject[:200],
        body=body,
        occurred_at=starts_at,
        created_by=rep,
    )
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                rep=rep,
                team=team,
                lead=lead,
                activity=activity,
                starts_at=starts_at,
                ends_at=ends_at,
                language=language,
            )
    except IntegrityError as exc:  # the page lock makes this rare: a write that went around it
        raise SlotTaken(
            _("Sorry, this time was just booked by someone else. Please choose another time.")
        ) from exc
    if lead.owner_id is None:
        handoff_for_booked_meeting(lead_id=lead.pk, rep=rep, now=now)
    for to in (BookingInvitation.To.LEAD, BookingInvitation.To.REP):
        invitation = BookingInvitation.objects.create(booking=booking, to=to)
        transaction.on_commit(_queue_invitation(invitation.pk))
    return booking


def _queue_invitation(invitation_id: int):
    def enqueue_booking_invitation() -> (
        None
    ):  # named: Django logs a failed robust callback by its __qualname__
        queue_task("pipeline.booking.tasks.send_booking_invitation", invitation_id)

    return enqueue_booking_invitation


def _demo_request(*, rep: User, starts_at: dt.datetime, booker: Booker, now: dt.datetime) -> Lead:
    """The demo-request touch through leads' ingest (the lead created if new); the consent's proof kept."""
    with translation.override(settings.LANGUAGE_CODE):
        local = timezone.localtime(starts_at)
        subject = _("Booked a meeting with %(rep)s on %(when)s") % {
            "rep": rep,
            "when": formats.date_format(local, "SHORT_DATETIME_FORMAT"),
        }
    event: dict = {
        "id": f"booking:{uuid.uuid4().hex}",
        "type": TouchType.DEMO_REQUEST,
        "email": booker.email,
        "occurred_at": now.isoformat(),
        "properties": {"subject": subject, "meeting_at": starts_at.isoformat(), "rep_id": rep.pk},
    }
    for name in ("name", "company", "phone"):
        value = getattr(booker, name).strip()
        if value:
            event[name] = value
    if booker.consent_email:
        event["consent_email"] = True
    result = events_ingest(events=[event], source="booking", lead_source=LeadSource.WEB_FORM)
    if result.rejected:
        raise ValidationError(result.rejected[0].errors)
    lead = Lead.objects.get(pk=result.lead_ids[0])
    if booker.consent_email:
        lead_consent_proof_record(
            lead_id=lead.pk, method=ConsentMethod.WEB_FORM, wording=booker.consent_wording, at=now
        )
    return lead


# --- Invitations (the e-mail queue) -------------------------------------------------------------------------


def _invitation_message(invitation: BookingInvitation) -> EmailMessage:
    booking = invitation.booking
    rep, lead = booking.rep, booking.lead
    to_lead = invitation.to == BookingInvitation.To.LEAD
    language = booking.language if to_lead else rep.language
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        when = formats.date_format(timezone.localtime(booking.starts_at), "DATETIME_FORMAT")
        minutes = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
        summary = _("Meeting: %(lead)s and %(rep)s") % {"lead": lead.name or lead.email, "rep": rep}
        if to_lead:
            subject = _("Your meeting with %(rep)s on %(when)s") % {"rep": rep, "when": when}
            body = _(
                "%(name)s\n\nThank you for booking a meeting. %(rep)s will meet you on %(when)s (Asia/Tokyo) for "
                "%(minutes)s minutes. The invitation is attached; add it to your calendar.\n"
            ) % {"name": lead.name or lead.email, "rep": rep, "when": when, "minutes": minutes}
        else:
            subject = _("New meeting booked: %(lead)s on %(when)s") % {
                "lead": lead.name or lead.email,
                "when": when,
            }
            link = f"{settings.SITE_URL}{lead.get_absolute_url()}" if settings.SITE_URL else ""
            body = _(
                "%(lead)s (%(email)s) booked a meeting with you on %(when)s (Asia/Tokyo), %(minutes)s minutes.\n"
                "%(link)s\n"
            ) % {
                "lead": lead.name or lead.email,
                "email": lead.email,
                "when": when,
                "minutes": minutes,
                "link": link,
            }
        ics = invitation_ics(
            Invitation(
                uid=f"{booking.uid}@salesmarketing",
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                stamp=booking.created_at,
                summary=summary,
                description=booking.activity.body,
                organizer_name=str(rep),
                organizer_email=rep.email or settings.DEFAULT_FROM_EMAIL,
                attendee_name=lead.name or lead.email,
                attendee_email=lead.email,
            )
        )
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[lead.email if to_lead else rep.email],
        reply_to=[rep.email] if to_lead and rep.email else [],
    )
    part = MIMEText(ics, "calendar", "utf-8")
    part.set_param("method", "REQUEST")
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    message.attach(part)
    return message


def booking_invitation_deliver(*, invitation_id: int) -> bool:
    """Send one queued invitation, once: claimed queued → sending by a conditional UPDATE, then sent or failed
    (with the error). True when this call sent it."""
    claimed = BookingInvitation.objects.filter(pk=invitation_id, state=BookingInvitation.State.QUEUED).update(
        state=BookingInvitation.State.SENDING
    )
    if not claimed:
        return False
    invitation = BookingInvitation.objects.select_related(
        "booking__rep", "booking__lead", "booking__activity"
    ).get(pk=invitation_id)
    recipient = invitation.booking.lead.email if invitation.to == "lead" else invitation.booking.rep.email
    if not recipient:
        BookingInvitation.objects.filter(pk=invitation_id).update(
            state=BookingInvitation.State.FAILED, error="no e-mail address"
        )
        return False
    try:
        _invitation_message(invitation).send(fail_silently=False)
    except Exception as error:  # the mail server refused or is down: kept on the ledger row
        logger.warning("booking invitation %s failed: %s", invitation_id, type(error).__name__)
        BookingInvitation.objects.filter(pk=invitation_id).update(
            state=BookingInvitation.State.FAILED, error=str(error)[:500]
        )
        return False
    BookingInvitation.objects.filter(pk=invitation_id).update(
        state=BookingInvitation.State.SENT, sent_at=timezone.now()
    )
    return True


# --- The pages' settings ---------------------------------------------------------------------------------------


def booking_page_save(*, user: User, values: dict) -> BookingPage:
    """Create or change the user's own booking page (the form has validated `values`)."""
    page = BookingPage.objects.filter(user=user).first() or BookingPage(user=user)
    for name, value in values.items():
        setattr(page, name, value)
    _save_unique(page)
    return page


def team_booking_page_save(*, team: Team, by: User, values: dict) -> TeamBookingPage:
    """Create or change a team's round-robin page: its manager or an admin (the view checks)."""
    if not (by.is_superuser or by.role == User.Role.ADMIN or team.manager_id == by.pk):
        raise PermissionError(f"user {by.pk} does not manage team {team.pk}")
    page = TeamBookingPage.objects.filter(team=team).first() or TeamBookingPage(team=team)
    for name, value in values.items():
        setattr(page, name, value)
    _save_unique(page)
    return page


def _save_unique(page: BookingPage | TeamBookingPage) -> None:
    if type(page).objects.filter(slug=page.slug).exclude(pk=page.pk).exists():
        raise ValidationError({"slug": _("This address is taken; choose another.")})
    try:
        with transaction.atomic():
            page.full_clean(exclude=["user", "team"])
            page.save()
    except IntegrityError as exc:  # taken meanwhile
        raise ValidationError({"slug": _("This address is taken; choose another.")}) from exc
