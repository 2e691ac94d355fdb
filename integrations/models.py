"""Outbound webhooks and team chat channels, and the ledger of every delivery to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from salesmarketing import events


class WebhookSubscription(models.Model):
    """A URL that receives the events it subscribed to, signed with its own secret.

    The secret is shown once, when the subscription is created; it is kept (the app must sign with it) but
    never shown again. A subscription whose delivery kept failing for the whole retry window is flagged and
    switched off until an admin switches it on again."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    flagged_at = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return self.is_active and kind in self.events

    def event_labels(self) -> list[str]:
        return [str(events.KINDS.get(kind, kind)) for kind in self.events]


class TeamChannel(models.Model):
    """A team's chat channel: where its new handoffs, SLA breaches, rejected handoffs and won deals are posted,
    in the channel's language."""

    class Provider(models.TextChoices):
        SLACK = "slack", _("Slack")
        TEAMS = "teams", _("Microsoft Teams")
        CHATWORK = "chatwork", _("Chatwork")
        LINE_WORKS = "lineworks", _("LINE WORKS")

    # What a team's channel may post: the events a team acts on.
    KINDS = (
        events.HANDOFF_ASSIGNED,
        events.HANDOFF_SLA_BREACHED,
        events.HANDOFF_REJECTED,
        events.DEAL_WON,
    )

    team = models.OneToOneField(
        "salesmarketing.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="chat_channel"
    )
    provider = models.CharField(_("service"), max_length=20, choices=Provider.choices)
    # Slack, Teams and LINE WORKS: the channel's incoming-webhook URL. Chatwork: empty (its API's URL is
    # settings.CHATWORK_API_BASE), with the room id and an API token instead.
    url = models.URLField(_("incoming webhook URL"), max_length=500, blank=True)
    room_id = models.CharField(_("room id"), max_length=30, blank=True)
    token = models.CharField(_("API token"), max_length=200, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    flagged_at = models.DateTimeField(_("failing since"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["team__name"]
        verbose_name = _("team chat channel")
        verbose_name_plural = _("team chat channels")
        constraints = [
            models.CheckConstraint(
                condition=Q(provider="chatwork", room_id__gt="", token__gt="")
                | (~Q(provider="chatwork") & ~Q(url="")),
                name="teamchannel_has_a_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} ({self.get_provider_display()})"

    def wants(self, kind: str) -> bool:
        return self.is_active and kind in self.events


class WebhookDelivery(models.Model):
    """One event to one webhook subscription or one team channel: the ledger row that is claimed before each
    attempt and marked after it, so that a retry or a crash never sends twice at once and never drops one.
    One row per (event, target): replaying an event finds the row and adds nothing."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("gave up")

    event = models.ForeignKey(
        "salesmarketing.DomainEvent",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    channel = models.ForeignKey(
        TeamChannel,
        verbose_name=_("team channel"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # The event's subject ("deal:12"), copied so that "is an earlier one for this record still pending?" is one
    # indexed query: a record's events reach each target in order.
    subject_key = models.CharField(max_length=60)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    give_up_at = models.DateTimeField(_("give up at"))
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(_("response time (ms)"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(subscription__isnull=False, channel__isnull=True)
                | Q(subscription__isnull=True, channel__isnull=False),
                name="delivery_one_target",
            ),
            models.UniqueConstraint(
                fields=["event", "subscription"],
                condition=Q(subscription__isnull=False),
                name="delivery_once_per_subscription",
            ),
            models.UniqueConstraint(
                fields=["event", "channel"],
                condition=Q(channel__isnull=False),
                name="delivery_once_per_channel",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_idx", condition=Q(state="pending")
            ),
            models.Index(
                fields=["subject_key", "event"],
                name="delivery_subject_pending_idx",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["subscription", "-id"], name="delivery_subscription_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription or self.channel}"

    @property
    def target(self) -> WebhookSubscription | TeamChannel:
        target = self.subscription or self.channel
        assert target is not None  # delivery_one_target
        return target


class ImapMailbox(models.Model):
    """A user's own mailbox, read over IMAP: its new messages take the SMTP receiver's path
    (salesmarketing.inbound), so mail to and from leads lands on their timelines (pipeline.mailbox).

    The password is kept encrypted (integrations.crypto) and never shown again. `last_uid` is the highest UID of
    `uid_validity` already stored: a poll asks only for later ones. A poll claims the row (`polling_since`), so
    two workers never read the same mailbox at once."""

    class Security(models.TextChoices):
        TLS = "tls", _("SSL/TLS")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("None (trusted network only)")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="imap_mailbox",
    )
    host = models.CharField(_("IMAP server"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(_("security"), max_length=10, choices=Security.choices, default=Security.TLS)
    username = models.CharField(_("user name"), max_length=254)
    password_encrypted = models.TextField(editable=False)
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    polling_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    messages_stored = models.PositiveIntegerField(_("messages read"), default=0)
    created_at = models.DateTimeField(_("connected at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("IMAP mailbox")
        verbose_name_plural = _("IMAP mailboxes")
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="imapmailbox_port_range"),
            models.CheckConstraint(condition=Q(last_uid__gte=0), name="imapmailbox_last_uid_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.username} @ {self.host}"
