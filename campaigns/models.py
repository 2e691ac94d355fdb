"""The work of the campaigns app: costs, persona rules and attribution. Campaign and Persona themselves are
records, in `leads.models` (the layer below), so the foreign keys here point down."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leads.choices import Industry, Region
from leads.models import Campaign, Handoff, Persona


class CampaignCost(models.Model):
    """One dated spend line of a campaign, entered by hand or imported from an ad platform's CSV."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="costs"
    )
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=0)
    description = models.CharField(_("description"), max_length=200, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=100,
        blank=True,
        help_text=_("Row id from an imported file, to skip re-imports."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("cost")
        verbose_name_plural = _("costs")
        indexes = [models.Index(fields=["date", "campaign"], name="campaigncost_date_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="campaigncost_external_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.date} {self.amount}"


class CampaignCostMonth(models.Model):
    """What a campaign's cost lines add up to per calendar month (`month`: its first day). Kept by database
    triggers on CampaignCost (migration 0004), in the transaction of every write whoever makes it: a service, an
    import, the admin, a campaign's deletion or raw SQL. Each statement adds what it inserted and takes away what
    it deleted (an update does both), so concurrent writers add up; a month left without cost lines is removed.
    The campaign is a plain reference (no constraint): the triggers, not Django's cascade, clear its months."""

    campaign = models.ForeignKey(Campaign, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        verbose_name = _("cost per month")
        verbose_name_plural = _("costs per month")
        constraints = [models.UniqueConstraint(fields=["campaign", "month"], name="costmonth_unique")]
        indexes = [models.Index(fields=["month", "campaign"], name="costmonth_month_idx")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.month:%Y-%m} {self.amount}"


class CampaignVerdictMonth(models.Model):
    """Sales' verdicts per campaign and calendar month (`month`: its first day, Asia/Tokyo, as the KPIs' days):
    the handoffs of the campaign decided that month, accepted and rejected, the rejections by reason. Kept by
    database triggers on the handoffs (migration 0005) in the transaction of every write, as CampaignCostMonth is,
    so the campaign list reads a year of verdicts as a few thousand rows instead of every handoff decided in it.
    One column per rejection reason (`rejected_<reason>`, REASON_COLUMNS): a new reason needs its column."""

    campaign = models.ForeignKey(Campaign, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    month = models.DateField(_("month"))
    accepted = models.IntegerField(_("accepted"), default=0)
    rejected = models.IntegerField(_("rejected"), default=0)
    rejected_not_a_fit = models.IntegerField(default=0)
    rejected_no_budget = models.IntegerField(default=0)
    rejected_bad_contact = models.IntegerField(default=0)
    rejected_already_customer = models.IntegerField(default=0)
    rejected_too_early = models.IntegerField(default=0)
    rejected_competitor = models.IntegerField(default=0)
    rejected_duplicate = models.IntegerField(default=0)
    rejected_other = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("verdicts per month")
        verbose_name_plural = _("verdicts per month")
        constraints = [models.UniqueConstraint(fields=["campaign", "month"], name="verdictmonth_unique")]
        indexes = [models.Index(fields=["month", "campaign"], name="verdictmonth_month_idx")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.month:%Y-%m} +{self.accepted} -{self.rejected}"


# The rejection reasons' columns of CampaignVerdictMonth, by reason, and the zone of its months.
REASON_COLUMNS = {reason: f"rejected_{reason}" for reason in Handoff.RejectReason.values}
VERDICT_MONTH_ZONE = "Asia/Tokyo"


class PersonaRule(models.Model):
    """One way a lead matches a persona. Every condition that is filled in must hold (blank = any); a lead gets the
    persona of the active rule with the lowest priority number that it matches (ties: the older rule). Leads whose
    persona was set by hand are left alone."""

    persona = models.ForeignKey(
        Persona, verbose_name=_("persona"), on_delete=models.CASCADE, related_name="rules"
    )
    title_contains = models.CharField(
        _("job title contains"),
        max_length=200,
        blank=True,
        help_text=_("Any of these words, separated by commas (e.g. 部長, 本部長)."),
    )
    department_contains = models.CharField(
        _("department contains"),
        max_length=200,
        blank=True,
        help_text=_("Any of these words, separated by commas (e.g. 情報システム, IT)."),
    )
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    employees_min = models.PositiveIntegerField(_("employees from"), null=True, blank=True)
    employees_max = models.PositiveIntegerField(_("employees up to"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("When a lead matches several rules, the lowest number wins.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("persona rule")
        verbose_name_plural = _("persona rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(employees_min__isnull=True)
                | Q(employees_max__isnull=True)
                | Q(employees_max__gte=models.F("employees_min")),
                name="personarule_employees_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(
                    title_contains="",
                    department_contains="",
                    industry="",
                    region="",
                    employees_min__isnull=True,
                    employees_max__isnull=True,
                ),
                name="personarule_has_a_condition",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.persona}: {self.describe()}"

    @staticmethod
    def words(text: str) -> list[str]:
        """'部長, 本部長、Director' → ['部長', '本部長', 'Director'] (commas of either width)."""
        return [w.strip() for w in text.replace("、", ",").replace("，", ",").split(",") if w.strip()]

    def describe(self) -> str:
        parts = []
        if self.title_contains:
            parts.append(f"{_('job title')} ∋ {' / '.join(self.words(self.title_contains))}")
        if self.department_contains:
            parts.append(f"{_('department')} ∋ {' / '.join(self.words(self.department_contains))}")
        if self.industry:
            parts.append(str(self.get_industry_display()))
        if self.employees_min is not None or self.employees_max is not None:
            low = f"{self.employees_min:,}" if self.employees_min is not None else ""
            high = f"{self.employees_max:,}" if self.employees_max is not None else ""
            parts.append(f"{_('employees')}: {low}–{high}")
        if self.region:
            parts.append(str(self.get_region_display()))
        return " · ".join(parts)


# --- Attribution ---------------------------------------------------------------------------------------------


class AttributionModel(models.TextChoices):
    FIRST = "first", _("First touch")
    LAST = "last", _("Last touch")
    W_SHAPED = "w", _("W-shaped")


class ConversionKind(models.TextChoices):
    """The moments a lead's journey is credited for. `visit` (the lead's first page view) feeds the
    who-visits-vs-who-buys mix only and is never credited to a campaign."""

    VISIT = "visit", _("Visitors")
    LEAD = "lead", _("Leads")
    MQL = "mql", _("MQLs")
    SQL = "sql", _("Accepted by sales")
    DEAL = "deal", _("Deals")
    WON = "won", _("Won deals")


class AttributionCredit(models.Model):
    """The ledger: one conversion's credit to one campaign (NULL: touches without a campaign, or none at all) under
    the three models side by side. Rebuilt per lead by `campaigns.attribution`, never edited by hand.

    `deal_id` (deals and won revenue) and `handoff_id` (accepted handoffs) are plain ids, not foreign keys: the
    ledger is derived data, recomputed per lead, and stays out of the pipeline app's migrations.
    """

    kind = models.CharField(_("conversion"), max_length=10, choices=ConversionKind.choices)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    deal_id = models.BigIntegerField(null=True, blank=True)
    handoff_id = models.BigIntegerField(null=True, blank=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    date = models.DateField(_("date"))  # the local day of the conversion (won revenue: the day it closed)
    first = models.FloatField(default=0)
    last = models.FloatField(default=0)
    w = models.FloatField(default=0)
    amount = models.FloatField(default=0)  # the won amount, for `won` credits (revenue = credit × amount)

    class Meta:
        verbose_name = _("attribution credit")
        verbose_name_plural = _("attribution credits")
        indexes = [
            models.Index(fields=["lead"], name="attrcredit_lead_idx"),
            models.Index(fields=["date", "kind"], name="attrcredit_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.lead_id} → {self.campaign_id or '—'}"


class AttributionNumbers(models.Model):
    """Credited conversions (fractions under W-shaped) and won revenue, per attribution model: the columns of
    the daily and the monthly roll-ups."""

    leads_first = models.FloatField(default=0)
    leads_last = models.FloatField(default=0)
    leads_w = models.FloatField(default=0)
    mqls_first = models.FloatField(default=0)
    mqls_last = models.FloatField(default=0)
    mqls_w = models.FloatField(default=0)
    sqls_first = models.FloatField(default=0)
    sqls_last = models.FloatField(default=0)
    sqls_w = models.FloatField(default=0)
    deals_first = models.FloatField(default=0)
    deals_last = models.FloatField(default=0)
    deals_w = models.FloatField(default=0)
    won_first = models.FloatField(default=0)
    won_last = models.FloatField(default=0)
    won_w = models.FloatField(default=0)
    revenue_first = models.FloatField(default=0)
    revenue_last = models.FloatField(default=0)
    revenue_w = models.FloatField(default=0)

    class Meta:
        abstract = True


NUMBER_COLUMNS = tuple(f.name for f in AttributionNumbers._meta.local_fields)


class AttributionDay(AttributionNumbers):
    """Credited conversions per campaign and local day (campaign NULL: no campaign). Pages read this, never the
    touches: a year of a thousand campaigns is a few hundred thousand narrow rows at most."""

    date = models.DateField(_("date"))
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="attribution_days"
    )

    class Meta:
        verbose_name = _("attribution per day")
        verbose_name_plural = _("attribution per day")
        constraints = [
            models.UniqueConstraint(
                fields=["date", "campaign"], condition=Q(campaign__isnull=False), name="attrday_unique"
            ),
            models.UniqueConstraint(
                fields=["date"], condition=Q(campaign__isnull=True), name="attrday_unique_no_campaign"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "date"], name="attrday_campaign_idx"),
            # a period's days with and without a campaign (the unique indexes each hold one kind)
            models.Index(fields=["date"], name="attrday_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.campaign_id or '—'}"


class AttributionMonth(AttributionNumbers):
    """AttributionDay added up per campaign and calendar month (`month`: its first day). Recomputed from the days
    in the transaction that recomputes them (campaigns.attribution.rollups), so it always equals their sum: a
    page over whole months reads a row per campaign and month instead of thirty."""

    month = models.DateField(_("month"))
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="attribution_months"
    )

    class Meta:
        verbose_name = _("attribution per month")
        verbose_name_plural = _("attribution per month")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "campaign"], condition=Q(campaign__isnull=False), name="attrmonth_unique"
            ),
            models.UniqueConstraint(
                fields=["month"], condition=Q(campaign__isnull=True), name="attrmonth_unique_no_campaign"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.campaign_id or '—'}"


class AttributionWeek(AttributionNumbers):
    """AttributionDay added up per campaign and ISO week (`week`: its Monday), kept like AttributionMonth: the
    dashboard's chart by week reads a row per campaign and week instead of seven."""

    week = models.DateField(_("week"))
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="attribution_weeks"
    )

    class Meta:
        verbose_name = _("attribution per week")
        verbose_name_plural = _("attribution per week")
        constraints = [
            models.UniqueConstraint(
                fields=["week", "campaign"], condition=Q(campaign__isnull=False), name="attrweek_unique"
            ),
            models.UniqueConstraint(
                fields=["week"], condition=Q(campaign__isnull=True), name="attrweek_unique_no_campaign"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.campaign_id or '—'}"


class Dimension(models.TextChoices):
    PERSONA = "persona", _("Persona")
    AWARENESS = "awareness", _("Awareness stage")
    SENIORITY = "seniority", _("Seniority")
    INDUSTRY = "industry", _("Industry")
    SIZE = "size", _("Company size")


class SegmentDay(models.Model):
    """How many people reached each funnel step on a local day, split by one dimension (value '' = unknown).
    Each person counts once per step: their first visit, lead creation, MQL, acceptance, deal creation, win."""

    date = models.DateField(_("date"))
    step = models.CharField(_("step"), max_length=10, choices=ConversionKind.choices)
    dimension = models.CharField(_("dimension"), max_length=20, choices=Dimension.choices)
    value = models.CharField(_("value"), max_length=50, blank=True)
    people = models.PositiveIntegerField(_("people"), default=0)

    class Meta:
        verbose_name = _("segment per day")
        verbose_name_plural = _("segments per day")
        constraints = [
            models.UniqueConstraint(fields=["date", "step", "dimension", "value"], name="segmentday_unique")
        ]
        indexes = [models.Index(fields=["dimension", "date"], name="segmentday_dim_idx")]

    def __str__(self) -> str:
        return f"{self.date} {self.step} {self.dimension}={self.value}: {self.people}"


class AttributionDirtyDay(models.Model):
    """A day whose roll-ups (AttributionDay, SegmentDay) must be recomputed from the ledger."""

    date = models.DateField(unique=True)

    def __str__(self) -> str:
        return str(self.date)


class AttributionState(models.Model):
    """One row: how far the sweep has read (so it picks up only what changed) and when things last ran."""

    touch_id_seen = models.BigIntegerField(default=0)  # highest touch id at the previous sweep
    touch_id_done = models.BigIntegerField(default=0)  # … and at the one before (re-read: late commits)
    visitor_id_seen = models.BigIntegerField(default=0)
    visitor_id_done = models.BigIntegerField(default=0)
    swept_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    rolled_up_at = models.DateTimeField(null=True, blank=True)
    # Leads in nurture and MQLs per score band ({"0": n, "10": n, …}), counted by the sweep: the dashboard shows
    # the distribution without scanning a million leads per view.
    score_bands = models.JSONField(default=dict, blank=True)
    score_bands_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("attribution state")
        verbose_name_plural = _("attribution state")

    def __str__(self) -> str:
        return f"swept {self.swept_at}"

    @classmethod
    def get(cls) -> AttributionState:
        return cls.objects.get_or_create(pk=1)[0]
