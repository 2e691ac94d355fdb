"""Pipelines and their stages, deals, stage history, activities and tasks.

Deal.status (open / won / lost) mirrors the stage's won/lost flag on the row itself so the database can check
the closing rules (a CheckConstraint cannot look at another table) and lists can filter without a join.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import ExpressionWrapper, F, Q, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# A deal with at least this probability counts as "commit" in the forecast.
COMMIT_PROBABILITY = 70


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pipeline_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages"
    )
    name_ja = models.CharField(_("name (Japanese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50)
    order = models.PositiveSmallIntegerField(_("order"))
    probability = models.PositiveSmallIntegerField(
        _("default probability (%)"),
        validators=[MaxValueValidator(100)],
        help_text=_("A deal entering this stage gets this probability."),
    )
    is_won = models.BooleanField(_("won stage"), default=False)
    is_lost = models.BooleanField(_("lost stage"), default=False)
    stale_after_days = models.PositiveSmallIntegerField(
        _("stale after (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: a deal is stale when it stays longer than most deals did (75th percentile)."),
    )

    class Meta:
        ordering = ["pipeline", "order"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "order"], name="stage_order_unique"),
            models.UniqueConstraint(
                fields=["pipeline"], condition=Q(is_won=True), name="stage_one_won_per_pipeline"
            ),
            models.UniqueConstraint(
                fields=["pipeline"], condition=Q(is_lost=True), name="stage_one_lost_per_pipeline"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="stage_probability_range"
            ),
            models.CheckConstraint(condition=~Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the viewer's language."""
        return self.name_en if (get_language() or "ja").startswith("en") else self.name_ja

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class DealQuerySet(models.QuerySet):
    def open(self) -> DealQuerySet:
        return self.filter(status=Deal.Status.OPEN)

    def from_handoff(self) -> DealQuerySet:
        """Marketing-sourced deals: created from a lead sales accepted through a marketing handoff (DESIGN.md,
        KPI definitions), whatever `source` label a rep gave them."""
        return self.filter(handoff__isnull=False)

    def readable_by(self, user) -> DealQuerySet:
        """The deals `user` may read: those of `visible_to`, and for marketing every deal, read-only (marketing
        follows what became of its leads; it owns, edits and moves none, so every write keeps `visible_to`)."""
        if user is not None and user.is_authenticated and user.role == user.Role.MARKETING:
            return self.all()
        return self.visible_to(user)

    def visible_to(self, user) -> DealQuerySet:
        """The deals `user` may act on: reps their own, managers their teams' (and their own), admins all."""
        condition = _visibility(user)
        if condition is None:
            return self.none()
        return self.filter(condition) if condition else self

    def with_can_open(self, user) -> DealQuerySet:
        """Annotate `can_open`: whether `user` may open the deal (visible_to's rule as a column of the row, so a
        list of shared numbers can show deals of others without a link, at no extra lookup)."""
        condition = _visibility(user)
        if condition is None or not condition:
            return self.annotate(can_open=Value(condition is not None))
        return self.annotate(can_open=ExpressionWrapper(condition, output_field=models.BooleanField()))


def _visibility(user) -> Q | None:
    """The rule of DealQuerySet.visible_to: None for nobody, an empty Q for everything."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser or user.role == user.Role.ADMIN:
        return Q()
    if user.role == user.Role.MANAGER:
        return user.oversees()
    return Q(owner=user)


# A deal labelled "marketing" by hand or by an API key, without a handoff: marketing-influenced (self-reported),
# counted apart from 商談化数.
SELF_REPORTED_LABEL = _("Marketing (self-reported)")


class Deal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    class Source(models.TextChoices):
        MARKETING = "marketing", _("Marketing handoff")
        SALES = "sales", _("Sales-sourced")
        REFERRAL = "referral", _("Referral")
        PARTNER = "partner", _("Partner")

    class LossCause(models.TextChoices):
        PRICE = "price", _("Price")
        COMPETITOR = "competitor", _("Lost to a competitor")
        TIMING = "timing", _("Timing")
        NO_BUDGET = "no_budget", _("No budget")
        NO_DECISION_MAKER = "no_decision_maker", _("No decision maker reached")
        PRODUCT_GAP = "product_gap", _("Product gap")
        POOR_FIT = "poor_fit", _("Poor fit / wrong target")
        WEAK_PROPOSAL = "weak_proposal", _("Weak proposal")
        SLOW_FOLLOW_UP = "slow_follow_up", _("Slow follow-up")
        UNRESPONSIVE = "unresponsive", _("Customer went silent")
        OTHER = "other", _("Other")

    class LossSide(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SALES = "sales", _("Sales")
        PRODUCT = "product", _("Product")
        EXTERNAL = "external", _("External")

    # The side a cause usually falls on; the close form suggests it, the person closing decides.
    CAUSE_DEFAULT_SIDE = {
        LossCause.PRICE: LossSide.EXTERNAL,
        LossCause.COMPETITOR: LossSide.EXTERNAL,
        LossCause.TIMING: LossSide.EXTERNAL,
        LossCause.NO_BUDGET: LossSide.EXTERNAL,
        LossCause.NO_DECISION_MAKER: LossSide.SALES,
        LossCause.PRODUCT_GAP: LossSide.PRODUCT,
        LossCause.POOR_FIT: LossSide.MARKETING,
        LossCause.WEAK_PROPOSAL: LossSide.SALES,
        LossCause.SLOW_FOLLOW_UP: LossSide.SALES,
        LossCause.UNRESPONSIVE: LossSide.EXTERNAL,
    }

    name = models.CharField(_("deal name"), max_length=200)
    company = models.ForeignKey(
        "leads.Company",
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deals",
    )
    contact = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    # No single-column indexes on these three: deal_owner_status_idx, deal_team_status_idx and
    # deal_stage_position_idx start with them, and every move or close writes each index of the deal.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,
    )
    team = models.ForeignKey(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        db_index=False,
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    position = models.BigIntegerField(_("position in column"), default=0)
    amount = models.DecimalField(
        _("amount (JPY)"), max_digits=14, decimal_places=0, default=0, validators=[MinValueValidator(0)]
    )
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    expected_close_date = models.DateField(_("expected close date"))
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.SALES)
    handoff = models.OneToOneField(
        "leads.Handoff",
        verbose_name=_("handoff"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deal",
    )
    first_touch_campaign = models.ForeignKey(
        "leads.Campaign",
        verbose_name=_("first-touch campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    next_step_date = models.DateField(_("next step date"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at (商談化)"), default=timezone.now, db_index=True)
    stage_changed_at = models.DateTimeField(_("in this stage since"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    won_amount = models.DecimalField(
        _("won amount (JPY)"), max_digits=14, decimal_places=0, null=True, blank=True
    )
    loss_cause = models.CharField(_("loss cause"), max_length=30, choices=LossCause.choices, blank=True)
    loss_side = models.CharField(_("whose side"), max_length=20, choices=LossSide.choices, blank=True)
    loss_note = models.TextField(_("loss note"), blank=True)
    # Custom field values by key (leads.custom_fields, definitions for "deal"); GIN-indexed on PostgreSQL by the
    # custom-fields migration.
    custom = models.JSONField(
        _("custom fields"), default=dict, blank=True, db_default=Value({}, models.JSONField())
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            # A deal made from a handoff is marketing-sourced for good (the KPIs' 商談化数 counts by the handoff).
            models.CheckConstraint(
                condition=Q(handoff__isnull=True) | Q(source="marketing"),
                name="deal_from_handoff_is_marketing",
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="deal_probability_range"
            ),
            models.CheckConstraint(
                condition=Q(won_amount__isnull=True) | Q(won_amount__gte=0),
                name="deal_won_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status="lost") | (~Q(loss_cause="") & ~Q(loss_side="")),
                name="deal_lost_has_cause_and_side",
            ),
            models.CheckConstraint(
                condition=~Q(status="won") | Q(won_amount__isnull=False), name="deal_won_has_amount"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="deal_closed_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "position"], name="deal_stage_position_idx"),
            # the board's first cards of a column, in card order (won/lost: latest closed first; a descending
            # index puts NULLs first on PostgreSQL, as the board's ORDER BY asks); with what the board's column
            # totals and the viewer's visibility read, so that its totals are read from the index alone
            models.Index(
                F("stage"),
                F("closed_at").desc(),
                F("position"),
                F("id"),
                include=["amount", "probability", "owner", "team", "status"],
                name="deal_stage_cards_idx",
            ),
            models.Index(fields=["owner", "status"], name="deal_owner_status_idx"),
            models.Index(fields=["team", "status"], name="deal_team_status_idx"),
            models.Index(fields=["status", "expected_close_date"], name="deal_status_close_idx"),
            # deals closed in a window by status; the weekly review's lost deals and their 4-week tally by side
            # and cause (per team) read from the index alone
            models.Index(
                fields=["status", "closed_at"],
                include=["loss_side", "loss_cause", "amount", "team", "id"],
                name="deal_status_closed_cover_idx",
            ),
            models.Index(fields=["updated_at"], name="deal_updated_idx"),  # the API's updated_since
            # revenue and lifetime value (KPIs), read from the index alone
            models.Index(
                fields=["closed_at"],
                include=["won_amount", "created_at", "company", "team", "owner"],
                condition=Q(status="won"),
                name="deal_won_closed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("pipeline:deal_detail", args=[self.pk])

    @property
    def source_label(self) -> str:
        """The source as the KPIs see it: "marketing" without a handoff is only what someone said."""
        if self.source == self.Source.MARKETING and self.handoff_id is None:
            return str(SELF_REPORTED_LABEL)
        return self.get_source_display()

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def weighted_amount(self):
        return self.amount * self.probability / 100


class StageChange(models.Model):
    """One stage change of a deal; the first row of a deal (from_stage empty) is its creation."""

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage,
        verbose_name=_("from stage"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    to_stage = models.ForeignKey(
        Stage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    # How long the deal had been in from_stage, kept on the row so "usual time in stage" is one aggregate.
    seconds_in_from_stage = models.BigIntegerField(_("seconds in previous stage"), null=True, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["deal", "changed_at"], name="stagechange_deal_time_idx"),
            models.Index(fields=["changed_at"], name="stagechange_time_idx"),
            models.Index(fields=["from_stage", "changed_at"], name="stagechange_from_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id}"


class Activity(models.Model):
    class Type(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("Email")
        DEMO = "demo", _("Demo")
        PROPOSAL = "proposal", _("Proposal")
        NOTE = "note", _("Note")

    deal = models.ForeignKey(
        Deal,
        verbose_name=_("deal"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    is_voice = models.BooleanField(_("voice of the customer"), default=False)
    voice_text = models.TextField(_("what the customer said"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("logged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Any change: a save() sets it, an UPDATE names it (the API's updated_since).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # An e-mail logged from the mailbox (pipeline.mailbox): its Message-ID, so the same message is logged once.
    email_message_id = models.CharField(
        _("e-mail Message-ID"), max_length=255, blank=True, default="", db_default=""
    )
    email_direction = models.CharField(
        _("e-mail direction"),
        max_length=3,
        choices=[("in", _("Received from the lead")), ("out", _("Sent to the lead"))],
        blank=True,
        default="",
        db_default="",
    )
    # [{"id", "name", "size"}] of its ActivityAttachment rows, so a timeline lists them without another query.
    attachment_list = models.JSONField(_("attachments"), default=list, blank=True, db_default=[])

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "email_message_id"],
                condition=~Q(email_message_id=""),
                name="activity_email_once_per_lead",
            ),
            models.CheckConstraint(
                condition=Q(deal__isnull=False) | Q(lead__isnull=False), name="activity_on_deal_or_lead"
            ),
            models.CheckConstraint(
                condition=Q(is_voice=False) | ~Q(voice_text=""), name="activity_voice_has_text"
            ),
        ]
        indexes = [
            models.Index(fields=["is_voice", "occurred_at"], name="activity_voice_idx"),
            # the API's created_since and updated_since
            models.Index(fields=["created_at"], name="activity_created_idx"),
            models.Index(fields=["updated_at"], name="activity_updated_idx"),
            models.Index(fields=["deal", "-occurred_at"], name="activity_deal_time_idx"),
            models.Index(fields=["lead", "-occurred_at"], name="activity_lead_time_idx"),
            # the meetings coming up ("my tasks"): a short range of time, whoever's
            models.Index(
                fields=["occurred_at"],
                condition=Q(type__in=["meeting", "demo"]),
                name="activity_meeting_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class ActivityAttachment(models.Model):
    """A file attached to an e-mail logged as an activity (pipeline.mailbox), within INBOUND_ATTACHMENT_MAX_BYTES.
    Kept in the database: the app has no file storage of its own to run, back up or secure."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size in bytes"))
    data = models.BinaryField(_("content"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Task(models.Model):
    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("to-do"), max_length=200)
    due_date = models.DateField(_("due date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deal_tasks",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = [F("done_at").asc(nulls_first=True), "due_date", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [models.Index(fields=["assignee", "done_at", "due_date"], name="task_assignee_due_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


# Meeting booking's models live with their feature (pipeline.booking); imported here so Django finds them.
from pipeline.booking.models import Booking, BookingInvitation, BookingPage, TeamBookingPage  # noqa: E402, F401
