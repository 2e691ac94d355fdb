"""Handoffs of MQLs to sales, and how they are assigned (territories, the assignment log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leads.choices import Industry, Region
from leads.models.campaigns import Campaign
from leads.models.leads import Lead


class Handoff(models.Model):
    """One MQL handed to one rep: assignment, SLA clock, first touch, and sales' verdict.

    At most one open handoff per lead, enforced by a partial unique index: concurrent workers that both see a lead
    cross the threshold cannot create two.
    """

    class State(models.TextChoices):
        UNASSIGNED = "unassigned", _("Waiting for a rep")
        ASSIGNED = "assigned", _("Assigned")
        WORKING = "working", _("First touch made")
        ACCEPTED = "accepted", _("Accepted (SQL)")
        REJECTED = "rejected", _("Rejected")

    OPEN_STATES = (State.UNASSIGNED, State.ASSIGNED, State.WORKING)

    class RejectReason(models.TextChoices):
        NOT_A_FIT = "not_a_fit", _("Not a fit")
        NO_BUDGET = "no_budget", _("No budget")
        BAD_CONTACT = "bad_contact", _("Bad contact data")
        ALREADY_CUSTOMER = "already_customer", _("Already a customer")
        TOO_EARLY = "too_early", _("Too early (recycle to nurture)")
        COMPETITOR = "competitor", _("Competitor")
        DUPLICATE = "duplicate", _("Duplicate")
        OTHER = "other", _("Other")

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="handoffs")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handoffs",
        db_index=False,  # handoff_owner_state_idx starts with it
    )
    team = models.ForeignKey(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handoffs",
    )
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.UNASSIGNED)
    score_at_handoff = models.IntegerField(_("score at handoff"), default=0)
    fit_at_handoff = models.IntegerField(_("fit at handoff"), default=0)
    reason = models.TextField(_("why it is hot"), blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handoffs",
        help_text=_("The lead's first-touch campaign when it was handed over."),
    )
    mql_at = models.DateTimeField(_("became MQL at"))
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    sla_due_at = models.DateTimeField(_("SLA due at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    first_touch_at = models.DateTimeField(_("first touch at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reject_reason = models.CharField(
        _("rejection reason"), max_length=30, choices=RejectReason.choices, blank=True
    )
    reject_note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Any change: a save() sets it, an UPDATE names it (the API's updated_since).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-mql_at", "-id"]
        verbose_name = _("handoff")
        verbose_name_plural = _("handoffs")
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(state__in=["unassigned", "assigned", "working"]),
                name="handoff_one_open_per_lead",
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(reject_reason=""), name="handoff_rejection_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "state"], name="handoff_owner_state_idx"),
            # a rep's latest assignment (round-robin picks the rep assigned longest ago)
            models.Index(fields=["owner", "assigned_at"], name="handoff_owner_assigned_idx"),
            models.Index(fields=["state", "sla_due_at"], name="handoff_sla_idx"),
            # MQLs of a period (distinct leads, and those accepted with a deal) and per campaign, from the index alone
            models.Index(
                fields=["mql_at"],
                include=["lead", "state", "campaign", "id"],
                name="handoff_mql_at_cover_idx",
            ),
            # sales' verdicts per campaign over a period (the campaign list, the marketers' dashboard), from the
            # index alone
            models.Index(
                fields=["decided_at"],
                include=["state", "campaign", "reject_reason", "id"],
                name="handoff_decided_idx",
            ),
            # the API's created_since and updated_since
            models.Index(fields=["created_at"], name="handoff_created_idx"),
            models.Index(fields=["updated_at"], name="handoff_updated_idx"),
            # the KPIs' SLA and speed-to-lead measures, read from the index alone
            models.Index(fields=["sla_due_at"], include=["first_touch_at"], name="handoff_sla_due_idx"),
            models.Index(fields=["first_touch_at"], include=["assigned_at"], name="handoff_first_touch_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.owner or '—'}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class TerritoryRule(models.Model):
    """Leads from this region and/or industry go to this team (the lowest priority number that matches wins)."""

    team = models.ForeignKey("salesmarketing.Team", verbose_name=_("team"), on_delete=models.CASCADE)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices, blank=True)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("territory rule")
        verbose_name_plural = _("territory rules")

    def __str__(self) -> str:
        return f"{self.get_region_display() or '*'} / {self.get_industry_display() or '*'} → {self.team}"


class AssignmentLog(models.Model):
    """Why a handoff went to whom: every assignment and re-assignment, by the system or by a person."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "salesmarketing.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return self.reason
