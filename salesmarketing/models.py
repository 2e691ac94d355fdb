from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from salesmarketing import notifications


class Team(models.Model):
    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SALES = "sales", _("Sales")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
    )
    # Service level for handoffs to this team, counted in business hours (Mon–Fri, Japanese holidays off).
    sla_first_touch_hours = models.PositiveSmallIntegerField(_("SLA: hours to first touch"), default=4)
    sla_reminder_minutes = models.PositiveSmallIntegerField(
        _("SLA: remind this many minutes before due"), default=60
    )
    sla_reassign_after_hours = models.PositiveSmallIntegerField(
        _("SLA: re-assign this many hours after a breach"),
        default=4,
        help_text=_("0 turns re-assignment off."),
    )
    business_day_start = models.PositiveSmallIntegerField(_("business day starts (hour)"), default=9)
    business_day_end = models.PositiveSmallIntegerField(_("business day ends (hour)"), default=18)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.CheckConstraint(
                condition=Q(business_day_start__lt=models.F("business_day_end"), business_day_end__lte=24),
                name="team_business_day_ordered",
            ),
            models.CheckConstraint(condition=Q(sla_first_touch_hours__gte=1), name="team_sla_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SALES = "sales", _("Sales rep")
        MANAGER = "manager", _("Manager")
        ADMIN = "admin", _("Admin")

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    away_until = models.DateField(
        _("away until"),
        null=True,
        blank=True,
        help_text=_("Absent reps get no new handoffs up to and including this day."),
    )
    handoff_capacity = models.PositiveSmallIntegerField(
        _("open handoff capacity"), default=15, help_text=_("No new handoffs while this many are open.")
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("The language of the e-mails the app sends this user; set when they switch languages."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.MANAGER, self.Role.ADMIN)

    @property
    def is_marketer(self) -> bool:
        return self.role == self.Role.MARKETING

    def oversees(self) -> Q:
        """What a manager oversees, as a condition on a record's `owner` and `team` (deals, handoffs): their own
        records, their own team's, and those of every team they manage."""
        condition = Q(owner=self) | Q(team__in=Team.objects.filter(manager=self).values("pk"))
        if self.team_id:
            condition |= Q(team_id=self.team_id)
        return condition


class NotificationContent(models.Model):
    """A declared message (salesmarketing.notifications) and its parameters, rendered in the reader's language.
    Rows without a kind show their stored title and body (free text, and rows from before kinds existed)."""

    kind = models.CharField(_("kind"), max_length=60, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.text[0]

    @cached_property
    def text(self) -> tuple[str, str]:
        """(title, body) in the active language."""
        return notifications.render(kind=self.kind, params=self.params, title=self.title, body=self.body)


class Notification(NotificationContent):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["recipient", "-created_at"],
                name="notification_unread_idx",
                condition=Q(read_at__isnull=True),
            ),
        ]


class SendState(models.TextChoices):
    """Where an e-mail on a ledger row is (a notification's, a booking's invitation, a quote's)."""

    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class SendLedger(models.Model):
    """The ledger of one e-mail: queued → sending (claimed by a conditional UPDATE, so a task run twice sends
    once) → sent or failed (with the error). A crash between the claim and the mark leaves it `sending`: never
    sent twice."""

    State = SendState

    state = models.CharField(_("state"), max_length=10, choices=SendState.choices, default=SendState.QUEUED)
    error = models.CharField(_("error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        abstract = True


class NotificationEmail(NotificationContent, SendLedger):
    """A notification's e-mail (SendLedger). Written in the transaction that notifies, so it exists exactly when
    that work committed; sent after the commit by a task on the `email` queue, in the recipient's language, so no
    web request or realtime worker ever waits on the mail server. A refused or unreachable mail server puts it
    back in the queue for a later attempt, until MAX_ATTEMPTS, then failed."""

    MAX_ATTEMPTS = 5

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_emails",
        verbose_name=_("recipient"),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("notification e-mail")
        verbose_name_plural = _("notification e-mails")
        indexes = [
            models.Index(
                fields=["created_at"], name="notificationemail_queued_idx", condition=Q(state="queued")
            )
        ]


class NotificationPreference(models.Model):
    """A user's choice for one message kind (salesmarketing.notifications): in the app (the bell), by e-mail.
    No row: the message comes as its sender asks (the default, and how it always was)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=60)
    in_app = models.BooleanField(_("in the app"), default=True)
    email = models.BooleanField(_("by e-mail"), default=False)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notificationpreference_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kind}"


class ApiKey(models.Model):
    """A key for the JSON API. Only a SHA-256 hash of the secret is stored; the key is shown once at creation."""

    class Scope(models.TextChoices):
        EVENTS_WRITE = "events:write", _("Send events")
        LEADS_READ = "leads:read", _("Read leads")
        LEADS_WRITE = "leads:write", _("Create and update leads")
        HANDOFFS_WRITE = "handoffs:write", _("Read, accept and reject handoffs")
        DEALS_WRITE = "deals:write", _("Read, create and update deals")
        KPIS_READ = "kpis:read", _("Read KPIs")
        PRIVACY = "leads:privacy", _("Export and erase a lead's personal data")
        SEGMENTS_READ = "segments:read", _("Read segments and count them")
        SEGMENTS_WRITE = "segments:write", _("Create, change and delete segments and static lists")
        ACTIVITIES_WRITE = "activities:write", _("Read and log activities (calls, meetings…)")
        CAMPAIGNS_READ = "campaigns:read", _("Read campaigns and their costs")
        CAMPAIGNS_WRITE = "campaigns:write", _("Add campaign costs")
        KPIS_WRITE = "kpis:write", _("Enter hand-entered KPI values")

    class Kind(models.TextChoices):
        # An integration's key reaches every record; a user's key reaches what that user reaches in the app.
        INTEGRATION = "integration", _("Integration")
        USER = "user", _("User")

    # What a key gets when no scopes are named: everything but erasing people, which must be asked for.
    DEFAULT_SCOPES = sorted(set(Scope.values) - {Scope.PRIVACY.value})

    name = models.CharField(_("name"), max_length=100)
    source = models.SlugField(
        _("source"),
        max_length=50,
        help_text=_(
            "The integration this key belongs to; event ids are unique per source, so keep it across key rotations."
        ),
    )
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    # Whether the key sees everything is said here, never inferred from a missing user: a user's key that lost
    # its user would otherwise become an integration's. A user's keys die with the user (CASCADE).
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acts as"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("Records created through this key are attributed to this user; empty: no user."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="integration", user__isnull=True) | Q(kind="user", user__isnull=False),
                name="apikey_user_key_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_integration(self) -> bool:
        return self.kind == self.Kind.INTEGRATION

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class PeriodicRun(models.Model):
    """One run of a periodic task (a CELERY_BEAT_SCHEDULE entry) for one slot of its schedule, claimed by the beat
    that sends it. The unique row is the claim: a second beat (started by mistake) fails to insert it and sends
    nothing, so periodic work runs once per slot whatever the number of beats."""

    name = models.CharField(_("schedule entry"), max_length=200)
    slot = models.DateTimeField(_("slot start"))
    claimed_at = models.DateTimeField(_("claimed at"), auto_now_add=True)
    claimed_by = models.CharField(_("claimed by"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("periodic run")
        verbose_name_plural = _("periodic runs")
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="periodicrun_one_per_slot")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot:%Y-%m-%d %H:%M:%S}"


class InboundEmail(models.Model):
    """One e-mail that reached us — through the SMTP receiver (`manage.py receive_mail`, the return-path and
    forwarding address) or an email provider's inbound webhook — kept until the apps have read it
    (`salesmarketing.inbound`). Unique by its Message-ID, so a message that arrives twice is one row. Once read,
    the raw message and its addresses are emptied: what the readers took from it lives on in their own rows."""

    message_key = models.CharField(_("message key"), max_length=255, unique=True)
    source = models.CharField(_("received through"), max_length=40)
    mail_from = models.CharField(_("envelope sender"), max_length=254, blank=True)
    recipients = models.JSONField(_("envelope recipients"), default=list, blank=True)
    raw = models.BinaryField(_("raw message"), default=b"")
    size = models.PositiveIntegerField(_("size in bytes"), default=0)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="inbound_email_unread_idx",
            )
        ]

    def __str__(self) -> str:
        return self.message_key


class DomainEvent(models.Model):
    """One thing that happened to a record, written by the service that did it, in its transaction (a
    transactional outbox, salesmarketing.events). What leaves the app (webhooks, team chat) is sent from these
    rows after commit, so a rolled-back write sends nothing and a lost broker loses nothing.

    The auto-increment `id` orders the events of one subject; `uuid` is the public idempotency id a receiver
    sees. The payload holds ids, codes and amounts, never a person's name or address: a receiver that needs
    those reads them through the API, so an erased lead leaves nothing behind in the outbox."""

    uuid = models.UUIDField(_("event id"), unique=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=60)
    subject_type = models.CharField(_("subject type"), max_length=30)
    subject_id = models.BigIntegerField(_("subject id"))
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    # Set once the integrations app has made the event's deliveries (or found nobody who wants it).
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "id"], name="domainevent_subject_idx"),
            models.Index(
                fields=["id"], name="domainevent_undispatched_idx", condition=Q(dispatched_at__isnull=True)
            ),
            models.Index(fields=["occurred_at"], name="domainevent_occurred_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}:{self.subject_id}"
