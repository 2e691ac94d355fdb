"""Booking pages (a rep's, a team's round robin), bookings and their invitation e-mails (a ledger)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from salesmarketing.models import SendLedger

MEETING_MINUTES = [(15, _("15 minutes")), (30, _("30 minutes")), (45, _("45 minutes")), (60, _("1 hour")),
                   (90, _("1.5 hours"))]  # fmt: skip

_weekdays = RegexValidator(r"^[1-7]{1,7}$", _("Choose at least one weekday."))
_slug = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])?$",
    _("Use 2 to 50 lower-case letters, digits and hyphens (not at either end)."),
)


class BookingPage(models.Model):
    """A rep's public booking page (`/book/<slug>/`): when they take meetings and for how long."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.CASCADE, related_name="booking_page"
    )
    slug = models.CharField(_("page address"), max_length=50, unique=True, validators=[_slug])
    is_active = models.BooleanField(_("taking bookings"), default=True)
    meeting_minutes = models.PositiveSmallIntegerField(
        _("meeting length"), choices=MEETING_MINUTES, default=30
    )
    day_start = models.TimeField(_("business hours from"), default=dt.time(9))
    day_end = models.TimeField(_("business hours until"), default=dt.time(18))
    # ISO weekdays taken (1 Monday … 7 Sunday), e.g. "12345"; Japanese public holidays are always off.
    weekdays = models.CharField(_("weekdays"), max_length=7, default="12345", validators=[_weekdays])
    notice_hours = models.PositiveSmallIntegerField(
        _("minimum notice (hours)"), default=2, validators=[MaxValueValidator(336)]
    )
    days_ahead = models.PositiveSmallIntegerField(
        _("bookable days ahead"), default=28, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("booking page")
        verbose_name_plural = _("booking pages")
        constraints = [
            models.CheckConstraint(condition=Q(day_start__lt=F("day_end")), name="bookingpage_hours_ordered"),
            models.CheckConstraint(
                condition=Q(days_ahead__gte=1, days_ahead__lte=90), name="bookingpage_days_ahead_range"
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    def takes(self, day: dt.date) -> bool:
        return str(day.isoweekday()) in self.weekdays


class TeamBookingPage(models.Model):
    """A team's round-robin booking page (`/book/team/<slug>/`): the slot goes to a free rep of the team."""

    team = models.OneToOneField(
        "salesmarketing.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="booking_page"
    )
    slug = models.CharField(_("page address"), max_length=50, unique=True, validators=[_slug])
    is_active = models.BooleanField(_("taking bookings"), default=True)
    meeting_minutes = models.PositiveSmallIntegerField(
        _("meeting length"), choices=MEETING_MINUTES, default=30
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("team booking page")
        verbose_name_plural = _("team booking pages")

    def __str__(self) -> str:
        return self.slug


class Booking(models.Model):
    """One meeting booked on a public page. The meeting itself is its Activity (what the rep's calendar, "my
    tasks" and the availability read); this row keeps its end, who booked it through which page, and the UID
    of its invitations. One rep cannot be booked twice at one start (the constraint backs up the page lock)."""

    uid = models.UUIDField(_("invitation UID"), default=uuid.uuid4, unique=True, editable=False)
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.PROTECT, related_name="bookings"
    )
    team = models.ForeignKey(
        "salesmarketing.Team",
        verbose_name=_("booked through the team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
    )
    lead = models.ForeignKey(
        "leads.Lead", verbose_name=_("lead"), on_delete=models.CASCADE, related_name="bookings"
    )
    activity = models.OneToOneField(
        "pipeline.Activity", verbose_name=_("meeting"), on_delete=models.CASCADE, related_name="booking"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.UniqueConstraint(fields=["rep", "starts_at"], name="booking_one_per_rep_and_start"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_ends_after_start"),
        ]
        indexes = [models.Index(fields=["rep", "-created_at"], name="booking_rep_created_idx")]

    def __str__(self) -> str:
        return f"{self.rep} {self.starts_at:%Y-%m-%d %H:%M}"


class BookingInvitation(SendLedger):
    """The ledger of one invitation e-mail (to the lead, or to the rep)."""

    class To(models.TextChoices):
        LEAD = "lead", _("Lead")
        REP = "rep", _("Rep")

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="invitations")
    to = models.CharField(_("to"), max_length=10, choices=To.choices)

    class Meta:
        verbose_name = _("booking invitation")
        verbose_name_plural = _("booking invitations")
        constraints = [
            models.UniqueConstraint(fields=["booking", "to"], name="bookinginvitation_once_per_to")
        ]

    def __str__(self) -> str:
        return f"{self.booking_id} → {self.to}"
