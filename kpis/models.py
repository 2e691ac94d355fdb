"""Targets, hand-entered values, weekly snapshots and the meeting's action items.

The KPI definitions themselves live in code (kpis.registry), not in the database: a KPI's key is stored here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PeriodKind(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class Target(models.Model):
    """What a KPI should reach in one period of a kind (a week, month or quarter), for everyone or one team.

    A target holds from the period starting on `effective_from` until a later target for the same KPI, kind and
    team replaces it, so changing this quarter's target leaves last quarter's comparison as it was.
    """

    kpi = models.CharField(_("KPI"), max_length=50)
    period_kind = models.CharField(_("period"), max_length=10, choices=PeriodKind.choices)
    team = models.ForeignKey(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kpi_targets",
        help_text=_("Empty: the whole company."),
    )
    value = models.DecimalField(
        _("target"), max_digits=16, decimal_places=4, null=True, blank=True, help_text=_("Empty: no target.")
    )
    effective_from = models.DateField(_("applies from"), help_text=_("The first day of the first period."))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("set by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kpi", "period_kind", "-effective_from"]
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "team", "effective_from"],
                name="target_unique_per_team",
                condition=Q(team__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "effective_from"],
                name="target_unique_company",
                condition=Q(team__isnull=True),
            ),
        ]
        indexes = [models.Index(fields=["period_kind", "team", "effective_from"], name="target_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.kpi} / {self.period_kind} / {self.team or '*'}: {self.value}"


class ManualKpiValue(models.Model):
    """A number the app cannot observe (a brand awareness survey, the market size), entered by hand for a period.

    It holds from its period on, until a later entry for the same KPI replaces it.
    """

    class Kind(models.TextChoices):
        MONTH = "month", _("Month")
        QUARTER = "quarter", _("Quarter")
        YEAR = "year", _("Year")

    kpi = models.CharField(_("KPI"), max_length=50)
    period_kind = models.CharField(_("period"), max_length=10, choices=Kind.choices, default=Kind.MONTH)
    period_start = models.DateField(_("period starts"))
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=6)
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("Source of the number."))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    entered_at = models.DateTimeField(_("entered at"), auto_now=True)

    class Meta:
        ordering = ["kpi", "-period_start"]
        verbose_name = _("hand-entered KPI value")
        verbose_name_plural = _("hand-entered KPI values")
        constraints = [
            models.UniqueConstraint(fields=["kpi", "period_start"], name="manualkpivalue_unique_period"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.period_start}: {self.value}"


class WeeklySnapshot(models.Model):
    """What the weekly meeting saw for one ISO week (and one team, or everyone): frozen once the week is over.

    `values` maps KPI key → value for the week; `context` holds the month- and quarter-to-date values the page
    paces against; `targets` the targets then in force; `versions` each KPI definition's version, so the page
    can say which definitions changed since.
    """

    week_start = models.DateField(_("week (Monday)"))
    iso_year = models.PositiveSmallIntegerField(_("ISO year"))
    iso_week = models.PositiveSmallIntegerField(_("ISO week"))
    team = models.ForeignKey(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kpi_snapshots",
    )
    values = models.JSONField(_("values"), default=dict)
    context = models.JSONField(_("month and quarter to date"), default=dict)
    targets = models.JSONField(_("targets"), default=dict)
    versions = models.JSONField(_("definition versions"), default=dict)
    definitions_hash = models.CharField(_("definitions hash"), max_length=64)
    frozen_at = models.DateTimeField(_("frozen at"))

    class Meta:
        ordering = ["-week_start"]
        verbose_name = _("weekly snapshot")
        verbose_name_plural = _("weekly snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["week_start", "team"], name="snapshot_unique_team", condition=Q(team__isnull=False)
            ),
            models.UniqueConstraint(
                fields=["week_start"], name="snapshot_unique_company", condition=Q(team__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d} {self.team or ''}".strip()


class ActionItem(models.Model):
    """Something the weekly meeting agreed to do: shown in every following week's review until it is done."""

    # Set by the review's selector for its viewer (not a column): whether they get the control to tick it off, and
    # where that control posts (reversed once for the whole list).
    can_change: bool
    done_url: str

    title = models.CharField(_("action"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="kpi_action_items",
    )
    due_date = models.DateField(_("due date"))
    week_start = models.DateField(_("raised in week (Monday)"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["week_start", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        indexes = [models.Index(fields=["week_start", "done_at"], name="actionitem_week_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def can_be_changed_by(self, user) -> bool:
        """The owner, the managers who run the weekly meeting and admins tick it off or open it again; everyone
        else only sees it."""
        return may_assign_action_item(user=user, owner_id=self.owner_id)

    @property
    def is_overdue(self) -> bool:
        return not self.is_done and self.due_date < timezone.localdate()


def manages_action_items(user) -> bool:
    """Managers (who run the weekly meeting) and admins add and change anyone's action items."""
    return user is not None and user.is_authenticated and (user.is_superuser or user.is_manager)


def may_enter_manual_values(user) -> bool:
    """Who enters the hand-entered KPI values (the values page and the API): managers, admins and marketing."""
    return (
        user is not None
        and user.is_authenticated
        and (user.is_superuser or user.is_manager or user.is_marketer)
    )


def may_assign_action_item(*, user, owner_id: int) -> bool:
    """Who may add an action item for `owner_id` (and change one of theirs): managers and admins for anyone, any
    user for themselves."""
    if user is None or not user.is_authenticated:
        return False
    return manages_action_items(user) or user.pk == owner_id


class VisitorPeriod(models.Model):
    """Who visited in which week, month and quarter: one row per visitor and calendar period (Asia/Tokyo).

    A roll-up of page views, kept by a PostgreSQL trigger on leads_touch (see migration 0002), so counting a
    period's unique visitors reads one index range instead of sorting every page view of it. A visitor is a
    tracking-cookie id, or `lead:<id>` for a known lead seen without one, as in the `visitors` KPI. Rows are
    only added: a visit stays counted after its lead is erased, under a random stand-in for its tracking id
    (`visitor_periods_forget`). On SQLite the table stays empty and the KPI counts page views directly.
    """

    pk = models.CompositePrimaryKey("kind", "start", "visitor")
    kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    start = models.DateField()
    visitor = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("visitor by period")
        verbose_name_plural = _("visitors by period")

    def __str__(self) -> str:
        return f"{self.kind} {self.start}: {self.visitor}"


class VisitorCount(models.Model):
    """How many visitors each week, month and quarter has in VisitorPeriod, as deltas: the same trigger adds one
    row per statement and period with the visitors that statement added. Deltas, not one row per period, so
    concurrent ingests never wait on each other's counter; the reader sums them, and beat folds them into one
    row per period (`visitor_counts_compact`)."""

    kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    start = models.DateField()
    visitors = models.BigIntegerField()

    class Meta:
        verbose_name = _("visitor count")
        verbose_name_plural = _("visitor counts")
        indexes = [models.Index(fields=["kind", "start"], name="visitorcount_period_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.start}: {self.visitors:+}"


class DayGeneration(models.Model):
    """A generation on a day of one measured table (kpis.changes)."""

    source = models.CharField(max_length=10)
    day = models.DateField()
    generation = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.source} {self.day}: {self.generation}"


class KpiDay(DayGeneration):
    """A day of one measured table (lead, touch, handoff, deal, cost) that was written: its generation is raised
    when its marks (KpiMark) are folded in. The KPI cache keys a period by its days' generations and marks, so a
    write is seen at the next read."""

    pk = models.CompositePrimaryKey("source", "day")

    class Meta:
        verbose_name = _("KPI day generation")
        verbose_name_plural = _("KPI day generations")


class KpiMark(DayGeneration):
    """One statement's mark on a day of a measured table: the triggers (kpis.changes) append a row per statement
    that inserts, deletes or corrects rows placed on the day, in that statement's transaction. Appended, never
    updated, so concurrent writers on one day (ingest at full speed, and every write of today) never wait for one
    another; beat folds them into KpiDay every minute (kpis.services.day_marks_fold)."""

    class Meta:
        verbose_name = _("KPI day mark")
        verbose_name_plural = _("KPI day marks")
