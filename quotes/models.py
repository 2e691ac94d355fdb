"""Products, a deal's line items, the issuer of quotes, and quotes with their numbers and revisions."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from quotes.tax import DiscountKind, Rounding, TaxCategory
from salesmarketing.models import SendState


class Unit(models.TextChoices):
    SET = "set", _("set (式)")
    PIECE = "piece", _("piece (個)")
    MONTH = "month", _("month (月)")
    LICENSE = "license", _("license (ライセンス)")
    USER = "user", _("user (ユーザー)")
    HOUR = "hour", _("hour (時間)")
    PERSON_MONTH = "person_month", _("person-month (人月)")


# How a unit prints on a quote, per language (the choice labels above are for forms).
UNIT_LABELS = {
    "ja": {"set": "式", "piece": "個", "month": "月", "license": "ライセンス", "user": "ユーザー", "hour": "時間",
           "person_month": "人月"},
    "en": {"set": "set", "piece": "pc", "month": "month", "license": "license", "user": "user", "hour": "hour",
           "person_month": "person-month"},
}  # fmt: skip

_MONEY = {"max_digits": 14, "decimal_places": 0}


class Product(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    unit_price = models.DecimalField(_("unit price (JPY)"), **_MONEY, validators=[MinValueValidator(0)])
    unit = models.CharField(_("unit"), max_length=20, choices=Unit.choices, default=Unit.SET)
    tax_category = models.CharField(
        _("tax category"), max_length=10, choices=TaxCategory.choices, default=TaxCategory.STANDARD
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="product_unit_price_not_negative"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="product_unit_valid"),
            models.CheckConstraint(
                condition=Q(tax_category__in=TaxCategory.values), name="product_tax_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_ja}"

    def name_for(self, language: str) -> str:
        return (self.name_en or self.name_ja) if language == "en" else self.name_ja


def _line_constraints(prefix: str) -> list[models.BaseConstraint]:
    """What makes a line a line, on a deal's items and on a quote's frozen lines alike."""
    return [
        models.CheckConstraint(condition=Q(quantity__gt=0), name=f"{prefix}_quantity_positive"),
        models.CheckConstraint(condition=Q(unit_price__gte=0), name=f"{prefix}_unit_price_not_negative"),
        models.CheckConstraint(condition=Q(tax_category__in=TaxCategory.values), name=f"{prefix}_tax_valid"),
        models.CheckConstraint(
            condition=(Q(discount_kind=DiscountKind.NONE, discount_value=0))
            | Q(discount_kind=DiscountKind.AMOUNT, discount_value__gte=0)
            | Q(discount_kind=DiscountKind.PERCENT, discount_value__gte=0, discount_value__lte=100),
            name=f"{prefix}_discount_valid",
        ),
    ]


class LineFields(models.Model):
    """The fields of a line: what it is, how many, at what price, which tax, which discount."""

    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=1)
    unit = models.CharField(_("unit"), max_length=20, choices=Unit.choices, default=Unit.SET)
    unit_price = models.DecimalField(_("unit price (JPY)"), **_MONEY)
    tax_category = models.CharField(
        _("tax category"), max_length=10, choices=TaxCategory.choices, default=TaxCategory.STANDARD
    )
    discount_kind = models.CharField(
        _("discount"), max_length=10, choices=DiscountKind.choices, default=DiscountKind.NONE
    )
    discount_value = models.DecimalField(_("discount value"), max_digits=14, decimal_places=2, default=0)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.description


class DealLineItem(LineFields):
    """A line of a deal (a product, or free text): their total is the deal's amount when the deal has any."""

    deal = models.ForeignKey(
        "pipeline.Deal", verbose_name=_("deal"), on_delete=models.CASCADE, related_name="line_items"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deal_lines",
    )

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("line item")
        verbose_name_plural = _("line items")
        constraints = _line_constraints("deal_line")
        indexes = [models.Index(fields=["deal", "position"], name="deal_line_deal_position")]


class Issuer(models.Model):
    """Who issues quotes (the seller): the company-wide default, and optionally one per team (a branch with its
    own address or registration). A quote's issuer is its deal's team's, else the default."""

    team = models.OneToOneField(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quote_issuer",
    )
    is_default = models.BooleanField(_("company-wide default"), default=False)
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    registration_number = models.CharField(
        _("registration number (T + 13 digits)"), max_length=14, blank=True
    )
    seal = models.BinaryField(_("seal image (PNG or JPEG)"), null=True, blank=True, editable=True)
    rounding = models.CharField(
        _("tax rounding"), max_length=10, choices=Rounding.choices, default=Rounding.FLOOR
    )
    # A line discounted above this percentage needs a manager's approval before the quote is sent.
    approval_threshold_percent = models.DecimalField(
        _("discount needing approval (%)"),
        max_digits=5,
        decimal_places=2,
        default=20,
        validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("issuer")
        verbose_name_plural = _("issuers")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="issuer_one_default"
            ),
            models.CheckConstraint(
                condition=Q(registration_number="") | Q(registration_number__regex=r"^T[0-9]{13}$"),
                name="issuer_registration_number_format",
            ),
            models.CheckConstraint(condition=Q(rounding__in=Rounding.values), name="issuer_rounding_valid"),
            models.CheckConstraint(
                condition=Q(approval_threshold_percent__gte=0, approval_threshold_percent__lte=100),
                name="issuer_threshold_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamApprovalThreshold(models.Model):
    """A team's own limit on discounts: a line discounted above it needs a manager's approval before the quote is
    sent. A team without one uses its issuer's (Issuer.approval_threshold_percent)."""

    team = models.OneToOneField(
        "salesmarketing.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        related_name="quote_approval_threshold",
    )
    percent = models.DecimalField(
        _("discount needing approval (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )

    class Meta:
        verbose_name = _("team's approval threshold")
        verbose_name_plural = _("teams' approval thresholds")
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__gte=0, percent__lte=100), name="team_threshold_percent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.percent}%"


class QuoteCounter(models.Model):
    """The last number given per issuer and year: locked (select_for_update) while a quote takes the next one, so
    two quotes created at once get two consecutive numbers, never the same and never a gap."""

    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="counters")
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "year"], name="quote_counter_per_issuer_year"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer_id} {self.year}: {self.last}"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Pending approval")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    SUPERSEDED = "superseded", _("Superseded")


EmailState = SendState  # the quote's e-mail, as every e-mail ledger of the app


class Quote(models.Model):
    Status = QuoteStatus
    EmailState = EmailState

    class Addressee(models.TextChoices):
        COMPANY = "onchu", _("Company (御中)")
        PERSON = "sama", _("Person (様)")

    class Language(models.TextChoices):
        JA = "ja", _("Japanese")
        EN = "en", _("English")

    # PROTECT: a numbered quote outlives any attempt to delete its deal (its number would leave a gap in the
    # issuer's gapless sequence); pipeline refuses such a deletion (an undone handoff acceptance) as a rule.
    deal = models.ForeignKey(
        "pipeline.Deal", verbose_name=_("deal"), on_delete=models.PROTECT, related_name="quotes"
    )
    issuer = models.ForeignKey(
        Issuer, verbose_name=_("issuer"), on_delete=models.PROTECT, related_name="quotes"
    )
    year = models.PositiveIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    revision = models.PositiveIntegerField(_("revision"), default=1)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    issue_date = models.DateField(_("issue date"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"))
    addressee_kind = models.CharField(
        _("addressee"), max_length=10, choices=Addressee.choices, default=Addressee.COMPANY
    )
    addressee_name = models.CharField(_("addressee name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=200)
    delivery_terms = models.CharField(_("delivery terms (納期)"), max_length=200, blank=True)
    payment_terms = models.CharField(_("payment terms (支払条件)"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.JA)
    rounding = models.CharField(
        _("tax rounding"), max_length=10, choices=Rounding.choices, default=Rounding.FLOOR
    )
    # The totals of the lines (税抜, tax, 税込), kept current while a draft and frozen once issued, with the
    # per-rate summary and the issuer block as they were (`frozen`), so a later change of issuer or product
    # never alters an issued quote.
    subtotal = models.DecimalField(_("subtotal (excl. tax)"), **_MONEY, default=0)
    tax = models.DecimalField(_("consumption tax"), **_MONEY, default=0)
    total = models.DecimalField(_("total (incl. tax)"), **_MONEY, default=0)
    frozen = models.JSONField(_("issued copy"), null=True, blank=True)
    max_discount_percent = models.DecimalField(
        _("largest discount (%)"), max_digits=5, decimal_places=2, default=0
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approval_comment = models.TextField(_("approval comment"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("accepted or declined at"), null=True, blank=True)
    # The e-mail that sends the quote (the ledger of that one message): queued when sent from the page, claimed
    # queued → sending by the task before it talks to the mail server, then sent or failed; never sent twice.
    email_to = models.EmailField(_("sent to"), blank=True)
    email_state = models.CharField(_("e-mail"), max_length=10, choices=EmailState.choices, blank=True)
    email_sent_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_error = models.CharField(_("e-mail error"), max_length=500, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["-year", "-sequence", "-revision"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "year", "sequence", "revision"], name="quote_number_revision_unique"
            ),
            # One live revision per number: an older one is superseded when a newer one is made.
            models.UniqueConstraint(
                fields=["issuer", "year", "sequence"],
                condition=~Q(status="superseded"),
                name="quote_one_live_revision",
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="quote_sequence_positive"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="quote_revision_positive"),
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("issue_date")), name="quote_valid_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, tax__gte=0, total__gte=0), name="quote_amounts_not_negative"
            ),
            models.CheckConstraint(condition=Q(status__in=QuoteStatus.values), name="quote_status_valid"),
            models.CheckConstraint(
                condition=Q(email_state="") | Q(email_state__in=EmailState.values, email_to__gt=""),
                name="quote_email_has_recipient",
            ),
            # Issued (anything past draft) means frozen.
            models.CheckConstraint(
                condition=Q(status="draft") | Q(frozen__isnull=False, issued_at__isnull=False),
                name="quote_issued_is_frozen",
            ),
        ]
        indexes = [
            models.Index(fields=["deal", "-created_at"], name="quote_deal_created"),
            # The KPIs' ranges (kpis.registry.measures): quotes by the day they were sent and answered.
            models.Index(fields=["sent_at"], name="quote_sent_at", condition=Q(sent_at__isnull=False)),
            models.Index(
                fields=["decided_at"], name="quote_decided_at", condition=Q(decided_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    def get_absolute_url(self) -> str:
        return reverse("quotes:quote_detail", args=[self.pk])

    @property
    def number(self) -> str:
        return f"Q-{self.year}-{self.sequence:05d}"

    @property
    def display_number(self) -> str:
        return self.number if self.revision == 1 else f"{self.number} rev.{self.revision}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class QuoteLine(LineFields):
    """A quote's own copy of a line, taken from the deal's items: editable while the quote is a draft, frozen
    once it is issued."""

    quote = models.ForeignKey(Quote, verbose_name=_("quote"), on_delete=models.CASCADE, related_name="lines")
    amount = models.DecimalField(_("amount (JPY)"), **_MONEY, default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        constraints = _line_constraints("quote_line")
