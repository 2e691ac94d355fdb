"""Leads and the visitors (tracking cookies) that turn into them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, ConsentMethod, LeadSource, LifecycleStage
from leads.models.campaigns import Campaign, Persona
from leads.models.companies import Company
from leads.records.normalize import email_key, kana_key, phone_key, text_key, work_domain


class LeadQuerySet(models.QuerySet):
    def owned_by(self, user) -> LeadQuerySet:
        return self.filter(owner=user)

    def mql(self) -> LeadQuerySet:
        return self.filter(lifecycle_stage=LifecycleStage.MQL)

    def emailable(self) -> LeadQuerySet:
        """Leads marketing may email: they consented, have not unsubscribed since, and their address does not
        bounce. Anything that sends marketing email, or builds a list to send to, starts from here."""
        return self.filter(
            consent_email=True, unsubscribed_at__isnull=True, email_undeliverable_at__isnull=True
        )

    def visible_to(self, user) -> LeadQuerySet:
        """Marketing, managers and admins see every lead; a sales rep sees the leads owned by their team."""
        if user.role != "sales":
            return self
        return self.filter(owned_by_team_of(user))

    def contactable_by(self, user) -> LeadQuerySet:
        """The leads `user` may make a deal's contact: those they see, and those nobody owns yet (a rep who met a
        lead before marketing handed it over); never another team's."""
        if user.role != "sales":
            return self
        return self.filter(owned_by_team_of(user) | Q(owner__isnull=True))


MATCH_KEYS = ("email_key", "phone_key", "name_key", "kana_key", "work_domain")


class LeadManager(models.Manager.from_queryset(LeadQuerySet)):  # type: ignore[misc]
    """`Lead.objects`: the live leads. A lead merged into another (leads.merge) stays as a tombstone row that
    only redirects; lists, counts, KPIs, segments and scores never see it. `Lead.all_objects` has them too."""

    def get_queryset(self) -> LeadQuerySet:
        return super().get_queryset().filter(merged_into__isnull=True)


def owned_by_team_of(user) -> Q:
    """Records (a lead, a company) whose owner is `user` or, when they have a team, on `user`'s team."""
    return Q(owner=user) if user.team_id is None else Q(owner__team_id=user.team_id)


class Lead(models.Model):
    email = models.EmailField(_("email"), max_length=254)
    name = models.CharField(_("name"), max_length=200, blank=True)
    name_kana = models.CharField(_("name (kana)"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=200, blank=True)
    department = models.CharField(_("department"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    source = models.CharField(
        _("source"), max_length=20, choices=LeadSource.choices, default=LeadSource.MANUAL
    )
    first_touch_campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("first-touch campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_touch_leads",
    )
    persona = models.ForeignKey(
        Persona,
        verbose_name=_("persona"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    persona_set_by_hand = models.BooleanField(_("persona set by hand"), default=False)
    consent_email = models.BooleanField(_("consents to email"), default=False)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # Set by a hard bounce or a spam complaint (nurture's delivery events); cleared when the address changes.
    email_undeliverable_at = models.DateTimeField(_("address undeliverable since"), null=True, blank=True)
    # The proof of consent the email law asks to keep: how, when, and the wording agreed to.
    consent_method = models.CharField(
        _("consent obtained by"),
        max_length=20,
        choices=ConsentMethod.choices,
        blank=True,
        default="",
        db_default="",
    )
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_wording = models.TextField(_("consent wording"), blank=True, default="", db_default="")
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    awareness_stage = models.CharField(
        _("awareness stage"), max_length=20, choices=AwarenessStage.choices, default=AwarenessStage.LATENT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
        db_index=False,  # lead_owner_idx (owner, lifecycle stage) serves it: every rescore rewrites every lead
    )
    # Filled by scoring (leads.scoring); kept on the row so lists sort and filter without joins.
    fit_score = models.IntegerField(_("fit score"), default=0)
    engagement_score = models.IntegerField(_("engagement score"), default=0)
    total_score = models.IntegerField(_("score"), default=0)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    mql_at = models.DateTimeField(_("became MQL at"), null=True, blank=True)
    recycled_at = models.DateTimeField(
        _("recycled at"),
        null=True,
        blank=True,
        help_text=_("Back to nurture; only new behaviour can make it an MQL again."),
    )
    last_touch_at = models.DateTimeField(_("last touch at"), null=True, blank=True)
    # A merged lead (leads.merge) is a tombstone: its URL and API id redirect to the survivor it points at.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.CASCADE,  # erasing the survivor erases the person's tombstones too
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # lead_merged_into_idx (tombstones only) serves it
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    # What the duplicates queue compares (leads.records.normalize), kept on the row by save() and the bulk
    # writers (leads.ingest) so candidates are found by an indexed self-join, not by reading every lead.
    email_key = models.CharField(max_length=254, blank=True, default="", db_default="", editable=False)
    phone_key = models.CharField(max_length=50, blank=True, default="", db_default="", editable=False)
    name_key = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)
    kana_key = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)
    work_domain = models.CharField(max_length=254, blank=True, default="", db_default="", editable=False)
    # Custom field values by key (leads.custom_fields); on PostgreSQL a GIN index (jsonb_path_ops, made by
    # the custom-fields migration, not here: SQLite has none) serves the filters' and segments' `@>` lookups.
    custom = models.JSONField(
        _("custom fields"), default=dict, blank=True, db_default=models.Value({}, models.JSONField())
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)  # lead_created_idx
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = LeadManager()
    all_objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_unique_ci"),
        ]
        indexes = [
            # The list's filters and sorts by stage and score, and their counts: these indexes carry whether a lead
            # was merged (every read through Lead.objects leaves merged leads out), so that a count reads them alone.
            models.Index(
                fields=["lifecycle_stage", "-total_score"],
                include=["merged_into"],
                name="lead_lifecycle_score_idx",
            ),
            models.Index(fields=["owner", "lifecycle_stage"], name="lead_owner_idx"),
            # the KPIs' new leads per period and the weekly review's by campaign, counted from the index alone
            models.Index(
                fields=["created_at"],
                include=["merged_into", "first_touch_campaign", "id"],
                name="lead_created_idx",
            ),
            # (by score, then the latest touched: lead_score_touch_idx, PostgreSQL only, leads migration 0026)
            models.Index(
                fields=["awareness_stage", "total_score"],
                include=["merged_into"],
                name="lead_awareness_score_idx",
            ),
            models.Index(fields=["updated_at"], name="lead_updated_idx"),  # the API's updated_since
            models.Index(
                fields=["merged_into"], name="lead_merged_into_idx", condition=Q(merged_into__isnull=False)
            ),
            *(
                models.Index(fields=[key], name=f"lead_{key}_idx", condition=~Q(**{key: ""}))
                for key in MATCH_KEYS
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def save(self, *args, **kwargs) -> None:
        # The match keys follow the fields they are made of (one row's derived columns, nothing else).
        update_fields = kwargs.get("update_fields")
        self.match_keys_refresh()
        if update_fields is not None and set(update_fields) & {"email", "phone", "name", "name_kana"}:
            kwargs["update_fields"] = {*update_fields, *MATCH_KEYS}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])

    def match_keys_refresh(self) -> None:
        for key, value in lead_match_keys(
            email=self.email, phone=self.phone, name=self.name, name_kana=self.name_kana
        ).items():
            setattr(self, key, value)


def lead_match_keys(**values: str) -> dict[str, str]:
    """The match-key columns that follow the values given (email, phone, name, name_kana), for the bulk writers
    that bypass save()."""
    keys: dict[str, str] = {}
    if "email" in values:
        keys["email_key"] = email_key(values["email"] or "")
        keys["work_domain"] = work_domain(values["email"] or "")
    if "phone" in values:
        keys["phone_key"] = phone_key(values["phone"] or "")
    if "name" in values:
        keys["name_key"] = text_key(values["name"] or "")
    if "name_kana" in values:
        keys["kana_key"] = kana_key(values["name_kana"] or "")
    return keys


class Visitor(models.Model):
    """A first-party visitor id (tracking cookie) and, once they identify, the lead it belongs to."""

    visitor_id = models.CharField(_("visitor id"), max_length=64, unique=True)
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, null=True, blank=True, related_name="visitors"
    )
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    identified_at = models.DateTimeField(_("identified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self) -> str:
        return self.visitor_id
