from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, Industry, LeadSource, LifecycleStage, Region, TouchType


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True, help_text=_("e.g. example.co.jp"))
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=20, blank=True)
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(Lower("domain"), condition=~Q(domain=""), name="company_domain_unique"),
        ]
        indexes = [models.Index(fields=["name"], name="company_name_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leads:company_detail", args=[self.pk])


class LeadQuerySet(models.QuerySet):
    def owned_by(self, user) -> LeadQuerySet:
        return self.filter(owner=user)

    def mql(self) -> LeadQuerySet:
        return self.filter(lifecycle_stage=LifecycleStage.MQL)

    def emailable(self) -> LeadQuerySet:
        """Leads marketing may email: they consented and have not unsubscribed since. Anything that sends
        marketing email, or builds a list to send to, starts from here."""
        return self.filter(consent_email=True, unsubscribed_at__isnull=True)

    def visible_to(self, user) -> LeadQuerySet:
        """Marketing, managers and admins see every lead; a sales rep sees the leads owned by their team."""
        if user.role != "sales":
            return self
        return self.filter(_owned_by_team_of(user))

    def contactable_by(self, user) -> LeadQuerySet:
        """The leads `user` may make a deal's contact: those they see, and those nobody owns yet (a rep who met a
        lead before marketing handed it over); never another team's."""
        if user.role != "sales":
            return self
        return self.filter(_owned_by_team_of(user) | Q(owner__isnull=True))


def _owned_by_team_of(user) -> Q:
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
        "campaigns.Campaign",
        verbose_name=_("first-touch campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_touch_leads",
    )
    persona = models.ForeignKey(
        "campaigns.Persona",
        verbose_name=_("persona"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    persona_set_by_hand = models.BooleanField(_("persona set by hand"), default=False)
    consent_email = models.BooleanField(_("consents to email"), default=False)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
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
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_unique_ci"),
        ]
        indexes = [
            models.Index(fields=["lifecycle_stage", "-total_score"], name="lead_lifecycle_score_idx"),
            models.Index(fields=["owner", "lifecycle_stage"], name="lead_owner_idx"),
            models.Index(fields=["-total_score"], name="lead_score_idx"),
            # the list's filters by stage and score are counted from this index alone
            models.Index(fields=["awareness_stage", "total_score"], name="lead_awareness_score_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])


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


class Touch(models.Model):
    """One tracked interaction of a lead, or of an anonymous visitor until they identify."""

    # The composite indexes below lead with these columns, so the FKs need no index of their own (every
    # insert pays for each index, and touches are the busiest table).
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="touches",
        db_index=False,
    )
    visitor_id = models.CharField(_("visitor id"), max_length=64, blank=True)
    type = models.CharField(_("type"), max_length=30, choices=TouchType.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    url = models.TextField(_("URL"), blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True)
    utm_content = models.CharField(_("UTM content"), max_length=100, blank=True)
    utm_term = models.CharField(_("UTM term"), max_length=100, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touches",
        db_index=False,
    )
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(
        _("source"),
        max_length=64,
        help_text=_("Where the event came from (API integration, form, tracking, import)."),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("touch")
        verbose_name_plural = _("touches")
        constraints = [
            # The key first: the replay check looks up a batch's keys within one source, and an index led by the
            # source lets the planner read every touch of a source it believes small (a new integration's,
            # before the next ANALYZE) instead of probing the keys.
            models.UniqueConstraint(fields=["idempotency_key", "source"], name="touch_idempotency_unique"),
            models.CheckConstraint(
                condition=Q(lead__isnull=False) | ~Q(visitor_id=""), name="touch_has_an_owner"
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="touch_lead_time_idx"),
            models.Index(fields=["occurred_at"], name="touch_time_idx"),
            models.Index(fields=["campaign", "occurred_at"], name="touch_campaign_time_idx"),
            models.Index(
                fields=["visitor_id"], name="touch_anonymous_visitor_idx", condition=Q(lead__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class AwarenessRule(models.Model):
    """An editable rule: a lead whose touches match it is at least at `stage`.

    A lead's awareness stage is the highest stage of any active rule its touches match (潜在層 when none).
    """

    class Field(models.TextChoices):
        TOUCH_TYPE = "type", _("Touch type equals")
        URL_CONTAINS = "url", _("URL contains")
        UTM_MEDIUM = "utm_medium", _("UTM medium equals")

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(
        _("name in English"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    stage = models.CharField(_("stage"), max_length=20, choices=AwarenessStage.choices)
    field = models.CharField(_("matches on"), max_length=20, choices=Field.choices)
    value = models.CharField(_("value"), max_length=200)
    min_count = models.PositiveSmallIntegerField(_("at least (times)"), default=1)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["stage", "name"]
        verbose_name = _("awareness rule")
        verbose_name_plural = _("awareness rules")
        constraints = [
            models.CheckConstraint(condition=Q(min_count__gte=1), name="awarenessrule_min_count_positive")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name


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
        "campaigns.Campaign",
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
            models.Index(fields=["state", "sla_due_at"], name="handoff_sla_idx"),
            models.Index(fields=["mql_at"], include=["lead"], name="handoff_mql_at_idx"),
            models.Index(fields=["decided_at"], name="handoff_decided_idx"),
            # the KPIs' SLA and speed-to-lead measures, read from the index alone
            models.Index(fields=["sla_due_at"], include=["first_touch_at"], name="handoff_sla_due_idx"),
            models.Index(fields=["first_touch_at"], include=["assigned_at"], name="handoff_first_touch_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.owner or '—'}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


# --- Scoring -------------------------------------------------------------------------------------------------


class ScoringKind(models.TextChoices):
    FIT = "fit", _("Fit (who they are)")
    ENGAGEMENT = "engagement", _("Engagement (what they did)")


class ScoringGroup(models.Model):
    """Rules in a group add up to at most `cap` points (e.g. seniority titles, page views)."""

    kind = models.CharField(_("axis"), max_length=20, choices=ScoringKind.choices)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(
        _("name in English"),
        max_length=100,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    cap = models.PositiveIntegerField(_("cap"), null=True, blank=True, help_text=_("Empty: no cap."))

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("scoring group")
        verbose_name_plural = _("scoring groups")
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="scoringgroup_unique_name")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name


class ScoringRule(models.Model):
    """A rule that gives points. Engagement rules match touches and decay with their half-life; fit rules match
    the lead's and its company's fields."""

    class FitField(models.TextChoices):
        TITLE = "title", _("Job title")
        DEPARTMENT = "department", _("Department")
        EMPLOYEES = "employees", _("Company employees")
        INDUSTRY = "industry", _("Company industry")
        REGION = "region", _("Company region")
        EMAIL_DOMAIN = "email_domain", _("Email domain")

    class Operator(models.TextChoices):
        CONTAINS = "contains", _("contains")
        EQUALS = "equals", _("equals")
        AT_LEAST = "gte", _("is at least")
        BELOW = "lt", _("is below")
        IN_LIST = "in", _("is one of (comma-separated)")

    kind = models.CharField(_("axis"), max_length=20, choices=ScoringKind.choices)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(
        _("name in English"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    group = models.ForeignKey(
        ScoringGroup,
        verbose_name=_("group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rules",
    )
    points = models.IntegerField(_("points"))
    is_active = models.BooleanField(_("active"), default=True)
    # Engagement: which touches match (blank = any) and how fast their points fade.
    touch_type = models.CharField(_("touch type"), max_length=30, choices=TouchType.choices, blank=True)
    url_contains = models.CharField(_("URL contains"), max_length=200, blank=True)
    property_key = models.CharField(_("property"), max_length=100, blank=True)
    property_value = models.CharField(_("property value"), max_length=200, blank=True)
    half_life_days = models.PositiveIntegerField(_("half-life (days)"), default=30)
    # Fit: a condition on the lead or its company.
    field = models.CharField(_("field"), max_length=20, choices=FitField.choices, blank=True)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices, blank=True)
    value = models.CharField(_("value"), max_length=500, blank=True)
    number = models.IntegerField(_("number"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind", "group__name", "-points", "name"]
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")
        constraints = [
            models.CheckConstraint(condition=Q(half_life_days__gte=1), name="scoringrule_half_life_positive"),
            models.CheckConstraint(
                condition=Q(kind="engagement") | (~Q(field="") & ~Q(operator="")),
                name="scoringrule_fit_has_condition",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name


class ScoringConfig(models.Model):
    """The shared MQL definition (one row): a lead is an MQL when fit ≥ F and total ≥ T. `version` moves with
    every change of rules or thresholds."""

    fit_threshold = models.IntegerField(_("minimum fit (F)"), default=20)
    total_threshold = models.IntegerField(_("minimum total (T)"), default=60)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")

    def __str__(self) -> str:
        return f"v{self.version}: fit ≥ {self.fit_threshold}, total ≥ {self.total_threshold}"

    @classmethod
    def get(cls) -> ScoringConfig:
        return cls.objects.get_or_create(pk=1)[0]


class RescoreRun(models.Model):
    """A full rescore, split into batches of lead ids so that several workers share it and a crash loses nothing."""

    version = models.PositiveIntegerField(_("version"))
    reason = models.CharField(_("reason"), max_length=100)
    total_batches = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rescore run")
        verbose_name_plural = _("rescore runs")

    def __str__(self) -> str:
        return f"v{self.version} {self.reason}"


class RescoreBatch(models.Model):
    run = models.ForeignKey(RescoreRun, on_delete=models.CASCADE, related_name="batches")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    queued_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "first_id"], name="rescorebatch_unique")]
        indexes = [
            models.Index(fields=["run"], condition=Q(done_at__isnull=True), name="rescorebatch_pending_idx")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.first_id}–{self.last_id}"


# --- Assignment ----------------------------------------------------------------------------------------------


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


# --- Capture: public web forms and CSV imports ------------------------------------------------------


def new_site_key() -> str:
    """A random, URL-safe key that names a public form endpoint (`/f/<site key>`)."""
    import secrets

    return secrets.token_urlsafe(12).replace("_", "x").replace("-", "y")


class FormEndpoint(models.Model):
    """A public endpoint a customer-facing web form posts to: `POST /f/<site key>` creates or updates the lead."""

    name = models.CharField(_("name"), max_length=200)
    site_key = models.SlugField(
        _("site key"),
        max_length=40,
        unique=True,
        default=new_site_key,
        help_text=_("Part of the form's action URL (/f/<site key>); change it to retire a leaked URL."),
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="form_endpoints",
        help_text=_("Submissions are linked to this campaign unless their UTM campaign names another."),
    )
    touch_type = models.CharField(
        _("touch type"), max_length=30, choices=TouchType.choices, default=TouchType.FORM_SUBMIT
    )
    lead_source = models.CharField(
        _("lead source"), max_length=20, choices=LeadSource.choices, default=LeadSource.WEB_FORM
    )
    redirect_url = models.URLField(
        _("redirect URL"),
        blank=True,
        help_text=_("Where the visitor goes after a successful submission; empty: a thank-you page."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_("One origin per line, e.g. https://www.example.co.jp. Empty: any site may post."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("form endpoint")
        verbose_name_plural = _("form endpoints")

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines() if line.strip()
        ]

    def allows_origin(self, origin: str) -> bool:
        allowed = self.origins
        return not allowed or origin.rstrip("/").lower() in allowed


class ImportJob(models.Model):
    """One uploaded CSV file: its bytes (kept for the mapping step), the mapping chosen, and the outcome."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for the column mapping")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, db_index=True)
    content = models.BinaryField(_("content"))
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    headers = models.JSONField(_("columns"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    source_name = models.CharField(
        _("source name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. the trade show or list this came from."),
    )
    touch_type = models.CharField(
        _("touch type"), max_length=30, choices=TouchType.choices, default=TouchType.LIST_IMPORT
    )
    lead_source = models.CharField(
        _("lead source"), max_length=20, choices=LeadSource.choices, default=LeadSource.IMPORT
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_jobs",
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.UPLOADED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    accepted_count = models.PositiveIntegerField(_("imported"), default=0)
    duplicate_count = models.PositiveIntegerField(_("already imported"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    leads_created = models.PositiveIntegerField(_("new leads"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("CSV import")
        verbose_name_plural = _("CSV imports")

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("leads:import_detail", args=[self.pk])

    @property
    def encoding_label(self) -> str:
        from leads.importing.files import ENCODING_LABELS  # a leaf module: no import back into models

        return ENCODING_LABELS.get(self.encoding, self.encoding)


# --- Personal data ---------------------------------------------------------------------------------------------


class ErasureRecord(models.Model):
    """That a lead was erased on request, and by whom: the audit trail of leads.privacy.lead_erase.

    Holds no personal data. The email is kept only as a SHA-256 of its normalized form, so a later question
    ("did you erase taro@example.jp?") can be answered by hashing the address given, while the table alone
    names nobody."""

    class Via(models.TextChoices):
        WEB = "web", _("Lead page")
        API = "api", _("API")
        COMMAND = "command", _("Management command")

    lead_id = models.BigIntegerField(_("lead id"))
    email_sha256 = models.CharField(_("SHA-256 of the email"), max_length=64, db_index=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erased by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    via = models.CharField(_("via"), max_length=10, choices=Via.choices)
    counts = models.JSONField(_("what was removed"), default=dict, blank=True)
    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        constraints = [models.UniqueConstraint(fields=["lead_id"], name="erasure_once_per_lead")]

    def __str__(self) -> str:
        return f"#{self.lead_id} @ {self.erased_at:%Y-%m-%d %H:%M}"
