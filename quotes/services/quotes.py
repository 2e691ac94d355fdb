"""Quotes: numbering, drafts, issuing (frozen), approval, revisions, sending, accepting, expiring."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead
from pipeline import services as pipeline_services
from pipeline.models import Activity, Deal
from quotes.documents import LINE_FIELDS, quote_document
from quotes.models import DealLineItem, Issuer, Quote, QuoteCounter, QuoteLine, TeamApprovalThreshold
from quotes.services.lines import issuer_for
from quotes.services.sending import queue_email
from quotes.tax import Line, compute, discount_percent
from salesmarketing import events
from salesmarketing.events import event_emit
from salesmarketing.models import User

DEFAULT_VALID_DAYS = 30
HEADER_FIELDS = (
    "valid_until",
    "addressee_kind",
    "addressee_name",
    "subject",
    "delivery_terms",
    "payment_terms",
    "notes",
    "language",
)


def next_sequence(*, issuer: Issuer, year: int) -> int:
    """The next number of `issuer` in `year`: the counter row locked until the caller's transaction ends, so
    concurrent quotes queue on it and each takes the next number — no duplicate, and no gap as long as the
    quote is saved in the same transaction (a rollback gives the number back)."""
    QuoteCounter.objects.get_or_create(issuer=issuer, year=year)
    counter = QuoteCounter.objects.select_for_update().get(issuer=issuer, year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def _recompute(quote: Quote) -> Quote:
    """A draft's amounts from its lines (each line's amount, the totals and its largest discount)."""
    lines = list(quote.lines.all())
    totals = compute(
        [
            Line(li.quantity, li.unit_price, li.tax_category, li.discount_kind, li.discount_value)
            for li in lines
        ],
        rounding=quote.rounding,
    )
    largest = Decimal(0)
    for line, amount in zip(lines, totals.lines, strict=True):
        if line.amount != amount:
            line.amount = amount
            line.save(update_fields=["amount"])
        largest = max(
            largest,
            discount_percent(
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_kind=line.discount_kind,
                discount_value=line.discount_value,
            ),
        )
    quote.subtotal, quote.tax, quote.total = totals.subtotal, totals.tax, totals.total
    quote.max_discount_percent = min(largest.quantize(Decimal("0.01")), Decimal(100))
    quote.save(update_fields=["subtotal", "tax", "total", "max_discount_percent"])
    return quote


def _copy_deal_lines(quote: Quote) -> None:
    quote.lines.all().delete()
    QuoteLine.objects.bulk_create(
        QuoteLine(quote=quote, position=n, **{key: getattr(item, key) for key in LINE_FIELDS})
        for n, item in enumerate(
            DealLineItem.objects.filter(deal_id=quote.deal_id).order_by("position", "pk")
        )
    )


def _lock(quote: Quote) -> Quote:
    return Quote.objects.select_for_update().select_related("deal", "issuer").get(pk=quote.pk)


def _require(quote: Quote, *statuses: str) -> None:
    if quote.status not in statuses:
        raise ValidationError(
            _("A quote in status “%(status)s” cannot do this.") % {"status": quote.get_status_display()}
        )


@transaction.atomic
def quote_create(*, deal: Deal, by: User, today: dt.date | None = None, **header: Any) -> Quote:
    """A draft quote for the deal, its lines copied from the deal's items, numbered by the issuer's counter."""
    issuer = issuer_for(deal)
    if issuer is None:
        raise ValidationError(
            _("No issuer is set up for quotes yet: an administrator adds one in the admin.")
        )
    if not DealLineItem.objects.filter(deal=deal).exists():
        raise ValidationError(_("Add line items to the deal before making a quote."))
    today = today or timezone.localdate()
    values = {
        "valid_until": today + dt.timedelta(days=DEFAULT_VALID_DAYS),
        "addressee_kind": Quote.Addressee.COMPANY,
        "addressee_name": deal.company.name if deal.company is not None else "",
        "subject": deal.name,
        **{key: value for key, value in header.items() if key in HEADER_FIELDS},
    }
    _check_header(values, issue_date=today)
    quote = Quote.objects.create(
        deal=deal,
        issuer=issuer,
        year=today.year,
        sequence=next_sequence(issuer=issuer, year=today.year),
        issue_date=today,
        rounding=issuer.rounding,
        created_by=by,
        **values,
    )
    _copy_deal_lines(quote)
    return _recompute(quote)


def _check_header(values: dict[str, Any], *, issue_date: dt.date) -> None:
    errors = {}
    if not (values.get("addressee_name") or "").strip():
        errors["addressee_name"] = _("Enter the addressee.")
    if not (values.get("subject") or "").strip():
        errors["subject"] = _("Enter a subject.")
    if values.get("addressee_kind") not in Quote.Addressee.values:
        errors["addressee_kind"] = _("Choose 御中 or 様.")
    if values.get("language", Quote.Language.JA) not in Quote.Language.values:
        errors["language"] = _("Choose a language.")
    if values.get("valid_until") is None or values["valid_until"] < issue_date:
        errors["valid_until"] = _("The validity ends on or after the issue date.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def quote_update(*, quote: Quote, by: User, **header: Any) -> Quote:
    """Change a draft's header (validity, addressee, subject, terms, notes, language)."""
    locked = _lock(quote)
    _require(locked, Quote.Status.DRAFT)
    values = {key: header[key] for key in HEADER_FIELDS if key in header}
    for key, value in values.items():
        setattr(locked, key, value.strip() if isinstance(value, str) else value)
    _check_header({key: getattr(locked, key) for key in HEADER_FIELDS}, issue_date=locked.issue_date)
    locked.version += 1
    locked.save(update_fields=[*values, "version"])
    return locked


@transaction.atomic
def quote_refresh_lines(*, quote: Quote, by: User) -> Quote:
    """Take the deal's items again into a draft (after the items changed)."""
    locked = _lock(quote)
    _require(locked, Quote.Status.DRAFT)
    _copy_deal_lines(locked)
    locked.version += 1
    locked.save(update_fields=["version"])
    return _recompute(locked)


def approval_threshold(quote: Quote) -> Decimal:
    """The largest discount (%) a quote may carry without a manager's approval: the deal's team's own threshold,
    else its issuer's (one query)."""
    team = Deal.objects.filter(pk=quote.deal_id).values("team_id")[:1]
    own = (
        TeamApprovalThreshold.objects.filter(team_id=Subquery(team)).values_list("percent", flat=True).first()
    )
    return own if own is not None else quote.issuer.approval_threshold_percent


def needs_approval(quote: Quote) -> bool:
    return quote.max_discount_percent > approval_threshold(quote)


@transaction.atomic
def quote_issue(*, quote: Quote, by: User, today: dt.date | None = None) -> Quote:
    """Issue a draft: its lines, totals and issuer block are frozen; it is ready to send, or waits for a
    manager's approval when a line's discount is above the threshold (the team's, else the issuer's)."""
    locked = _lock(quote)
    _require(locked, Quote.Status.DRAFT)
    if not locked.lines.exists():
        raise ValidationError(_("A quote without lines cannot be issued."))
    _recompute(locked)
    locked.issue_date = today or timezone.localdate()
    _check_header({key: getattr(locked, key) for key in HEADER_FIELDS}, issue_date=locked.issue_date)
    locked.frozen = quote_document(locked)
    locked.issued_at = timezone.now()
    locked.status = Quote.Status.PENDING_APPROVAL if needs_approval(locked) else Quote.Status.APPROVED
    locked.version += 1
    locked.save(update_fields=["issue_date", "frozen", "issued_at", "status", "version"])
    return locked


def can_approve(user: User, quote: Quote) -> bool:
    """A manager over the deal (or an admin) approves; never the quote's own author, unless admin."""
    if user.is_superuser or user.role == User.Role.ADMIN:
        return True
    if user.role != User.Role.MANAGER or quote.created_by_id == user.pk:
        return False
    return Deal.objects.visible_to(user).filter(pk=quote.deal_id).exists()


@transaction.atomic
def quote_approve(*, quote: Quote, by: User, comment: str = "") -> Quote:
    locked = _lock(quote)
    _require(locked, Quote.Status.PENDING_APPROVAL)
    if not can_approve(by, locked):
        raise ValidationError(_("Only a manager of the deal's team can approve this quote."))
    locked.status = Quote.Status.APPROVED
    locked.approved_by, locked.approved_at, locked.approval_comment = by, timezone.now(), comment.strip()
    locked.version += 1
    locked.save(update_fields=["status", "approved_by", "approved_at", "approval_comment", "version"])
    return locked


@transaction.atomic
def quote_revise(*, quote: Quote, by: User) -> Quote:
    """A new revision of an issued quote (same number, revision + 1), a draft with the same header and lines;
    the older one is superseded and kept. Any change after approval goes through a revision, so it needs
    approval again."""
    locked = _lock(quote)
    _require(
        locked,
        Quote.Status.PENDING_APPROVAL,
        Quote.Status.APPROVED,
        Quote.Status.SENT,
        Quote.Status.DECLINED,
        Quote.Status.EXPIRED,
    )
    lines = list(locked.lines.all())
    locked.status = Quote.Status.SUPERSEDED
    locked.version += 1
    locked.save(update_fields=["status", "version"])
    today = timezone.localdate()
    new = Quote.objects.create(
        deal=locked.deal,
        issuer=locked.issuer,
        year=locked.year,
        sequence=locked.sequence,
        revision=locked.revision + 1,
        issue_date=today,
        rounding=locked.rounding,
        created_by=by,
        **{key: getattr(locked, key) for key in HEADER_FIELDS if key != "valid_until"},
        valid_until=max(locked.valid_until, today),
    )
    QuoteLine.objects.bulk_create(
        QuoteLine(quote=new, position=line.position, **{key: getattr(line, key) for key in LINE_FIELDS})
        for line in lines
    )
    return _recompute(new)


@transaction.atomic
def quote_mark_sent(*, quote: Quote, by: User, email: bool = False) -> Quote:
    """Send an issued (and, if it needed it, approved) quote: with `email`, the PDF goes by e-mail to the deal's
    contact after the transaction commits; without, it was handed over another way. Logs an activity on the
    deal either way."""
    locked = _lock(quote)
    if locked.status == Quote.Status.PENDING_APPROVAL:
        raise ValidationError(_("A manager must approve this quote's discount before it is sent."))
    _require(locked, Quote.Status.APPROVED)
    fields = ["status", "sent_at", "version"]
    if email:
        contact = Lead.objects.filter(pk=locked.deal.contact_id).first() if locked.deal.contact_id else None
        if contact is None or not contact.email:
            raise ValidationError(
                _("The deal has no contact with an e-mail address: mark the quote as sent instead.")
            )
        locked.email_to, locked.email_state = contact.email, Quote.EmailState.QUEUED
        fields += ["email_to", "email_state"]
    locked.status, locked.sent_at = Quote.Status.SENT, timezone.now()
    locked.version += 1
    locked.save(update_fields=fields)
    pipeline_services.activity_log(
        by=by,
        deal=locked.deal,
        type=Activity.Type.EMAIL,
        subject=_("Quote %(number)s sent") % {"number": locked.display_number},
        body=_("Total %(total)s JPY incl. tax") % {"total": f"{locked.total:,}"},
    )
    if email:
        queue_email(locked)
    return locked


@transaction.atomic
def quote_accept(*, quote: Quote, by: User) -> Quote:
    """The customer accepted: the deal's amount becomes the quote's subtotal (tax excluded, as deal amounts
    are)."""
    locked = _lock(quote)
    _require(locked, Quote.Status.SENT)
    locked.status, locked.decided_at = Quote.Status.ACCEPTED, timezone.now()
    locked.version += 1
    locked.save(update_fields=["status", "decided_at", "version"])
    # The accepted quote says what the deal is worth, items or not.
    pipeline_services.deal_update(deal=locked.deal, by=by, amount=locked.subtotal, amount_derived=True)
    event_emit(
        kind=events.QUOTE_ACCEPTED,
        subject=("quote", locked.pk),
        payload={"quote_id": locked.pk, "deal_id": locked.deal_id, "subtotal": str(locked.subtotal)},
    )
    return locked


@transaction.atomic
def quote_decline(*, quote: Quote, by: User) -> Quote:
    locked = _lock(quote)
    _require(locked, Quote.Status.SENT)
    locked.status, locked.decided_at = Quote.Status.DECLINED, timezone.now()
    locked.version += 1
    locked.save(update_fields=["status", "decided_at", "version"])
    return locked


def quotes_expire(*, today: dt.date | None = None) -> int:
    """Sent quotes past their validity become expired; the number changed (idempotent)."""
    today = today or timezone.localdate()
    return Quote.objects.filter(status=Quote.Status.SENT, valid_until__lt=today).update(
        status=Quote.Status.EXPIRED
    )
