"""Quotes: gap-free numbers, revisions, issuing (frozen), approval of big discounts, sending, accepting."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from pipeline.models import Activity
from quotes import services
from quotes.models import Quote
from quotes.tax import DiscountKind, TaxCategory
from tests.conftest import require_or_skip
from tests.pipeline.factories import make_deal
from tests.quotes.factories import add_line, make_issuer

TODAY = dt.date(2026, 12, 4)


@pytest.fixture
def quote(deal, owner, issuer):
    add_line(deal, owner, unit_price=37_035, tax_category=TaxCategory.STANDARD)
    add_line(deal, owner, unit_price=2_160, tax_category=TaxCategory.REDUCED)
    return services.quote_create(deal=deal, by=owner, today=TODAY)


@pytest.mark.django_db
def test_a_quote_copies_the_deal_items_and_computes_tax_per_rate(quote, deal):
    assert quote.number == "Q-2026-00001"
    assert (quote.subtotal, quote.tax, quote.total) == (
        Decimal(39_195),
        Decimal(3_703 + 172),
        Decimal(43_070),
    )
    assert [line.amount for line in quote.lines.all()] == [37_035, 2_160]
    assert quote.addressee_name == deal.company.name
    assert quote.valid_until == TODAY + dt.timedelta(days=30)


@pytest.mark.django_db
def test_numbers_follow_one_another_per_issuer_and_year(deal, owner, issuer):
    add_line(deal, owner)
    numbers = [services.quote_create(deal=deal, by=owner, today=TODAY).number for _ in range(3)]
    numbers.append(services.quote_create(deal=deal, by=owner, today=dt.date(2027, 1, 5)).number)

    assert numbers == ["Q-2026-00001", "Q-2026-00002", "Q-2026-00003", "Q-2027-00001"]


@pytest.mark.django_db
def test_a_team_issuer_has_its_own_numbers(deal, owner, issuer):
    add_line(deal, owner)
    services.quote_create(deal=deal, by=owner, today=TODAY)
    make_issuer(is_default=False, team=deal.team, name="大阪支店")

    quote = services.quote_create(deal=deal, by=owner, today=TODAY)

    assert (quote.issuer.name, quote.number) == ("大阪支店", "Q-2026-00001")


@pytest.mark.django_db
def test_without_an_issuer_or_items_there_is_no_quote(deal, owner):
    with pytest.raises(ValidationError):
        services.quote_create(deal=deal, by=owner)
    make_issuer()
    with pytest.raises(ValidationError):
        services.quote_create(deal=deal, by=owner)


@pytest.mark.django_db
def test_issuing_freezes_lines_totals_and_issuer(quote, owner, deal):
    issued = services.quote_issue(quote=quote, by=owner, today=TODAY)
    quote.issuer.name = "新社名"
    quote.issuer.save()
    add_line(deal, owner, unit_price=999_999)

    issued.refresh_from_db()
    assert issued.status == Quote.Status.APPROVED  # no discount above the threshold: ready to send
    assert issued.frozen["issuer"]["name"] == "株式会社サンプル商事"
    assert issued.frozen["totals"]["total"] == "43070"
    with pytest.raises(ValidationError):
        services.quote_update(quote=issued, by=owner, subject="変更")
    with pytest.raises(ValidationError):
        services.quote_refresh_lines(quote=issued, by=owner)


@pytest.mark.django_db
def test_a_new_revision_keeps_the_number_and_supersedes_the_old_one(quote, owner):
    issued = services.quote_issue(quote=quote, by=owner, today=TODAY)

    rev2 = services.quote_revise(quote=issued, by=owner)

    issued.refresh_from_db()
    assert (rev2.number, rev2.revision, rev2.status) == ("Q-2026-00001", 2, Quote.Status.DRAFT)
    assert rev2.display_number == "Q-2026-00001 rev.2"
    assert issued.status == Quote.Status.SUPERSEDED
    assert rev2.total == issued.total
    assert Quote.objects.filter(sequence=1).count() == 2


@pytest.mark.django_db
def test_a_discount_above_the_threshold_needs_a_manager_before_sending(
    deal, owner, manager, teammate, issuer
):
    add_line(deal, owner, unit_price=100_000, discount_kind=DiscountKind.PERCENT, discount_value=25)
    quote = services.quote_issue(quote=services.quote_create(deal=deal, by=owner), by=owner)
    assert quote.status == Quote.Status.PENDING_APPROVAL

    with pytest.raises(ValidationError):
        services.quote_mark_sent(quote=quote, by=owner)
    with pytest.raises(ValidationError):
        services.quote_approve(quote=quote, by=teammate)
    with pytest.raises(ValidationError):
        services.quote_approve(quote=quote, by=owner)

    approved = services.quote_approve(quote=quote, by=manager, comment="競合対抗のため承認")
    assert (approved.status, approved.approved_by, approved.approval_comment) == (
        Quote.Status.APPROVED,
        manager,
        "競合対抗のため承認",
    )
    assert approved.approved_at is not None

    # A change after approval is a new revision, which needs approval again.
    rev2 = services.quote_issue(quote=services.quote_revise(quote=approved, by=owner), by=owner)
    assert rev2.status == Quote.Status.PENDING_APPROVAL


@pytest.mark.django_db
def test_a_teams_own_threshold_wins_over_the_issuers(deal, owner, outsider, issuer, stages):
    from quotes.models import TeamApprovalThreshold

    assert issuer.approval_threshold_percent == 20 and deal.team == owner.team
    add_line(deal, owner, unit_price=100_000, discount_kind=DiscountKind.PERCENT, discount_value=15)
    TeamApprovalThreshold.objects.create(team=owner.team, percent=10)  # this team: approval above 10 %
    strict = services.quote_issue(quote=services.quote_create(deal=deal, by=owner), by=owner)
    assert (services.approval_threshold(strict), strict.status) == (10, Quote.Status.PENDING_APPROVAL)

    other = make_deal(owner=outsider, name="他課の商談")  # another team: the issuer's 20 %
    add_line(other, outsider, unit_price=100_000, discount_kind=DiscountKind.PERCENT, discount_value=15)
    relaxed = services.quote_issue(quote=services.quote_create(deal=other, by=outsider), by=outsider)
    assert (services.approval_threshold(relaxed), relaxed.status) == (20, Quote.Status.APPROVED)

    TeamApprovalThreshold.objects.filter(team=owner.team).update(percent=50)  # and a looser one
    loose = services.quote_issue(quote=services.quote_revise(quote=strict, by=owner), by=owner)
    assert loose.status == Quote.Status.APPROVED


@pytest.mark.django_db
def test_sending_logs_an_activity_and_accepting_sets_the_deal_amount(quote, owner, deal):
    issued = services.quote_issue(quote=quote, by=owner)
    sent = services.quote_mark_sent(quote=issued, by=owner)
    assert Activity.objects.filter(deal=deal, subject__contains="Q-2026-00001").count() == 1

    services.line_item_remove(item=deal.line_items.first(), by=owner)
    accepted = services.quote_accept(quote=sent, by=owner)

    deal.refresh_from_db()
    assert accepted.status == Quote.Status.ACCEPTED
    assert deal.amount == Decimal(39_195)  # the quote's subtotal, tax excluded


@pytest.mark.django_db
def test_sent_quotes_past_their_validity_expire_once(quote, owner):
    services.quote_mark_sent(quote=services.quote_issue(quote=quote, by=owner, today=TODAY), by=owner)

    assert services.quotes_expire(today=TODAY + dt.timedelta(days=30)) == 0
    assert services.quotes_expire(today=TODAY + dt.timedelta(days=31)) == 1
    assert services.quotes_expire(today=TODAY + dt.timedelta(days=31)) == 0
    assert Quote.objects.get().status == Quote.Status.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_take_consecutive_numbers(owner, stages):
    require_or_skip(
        connection.vendor == "postgresql", "row locks need PostgreSQL (SQLite serialises writers)"
    )
    issuer = make_issuer()
    deals = [make_deal(owner=owner) for _ in range(2)]
    for deal in deals:
        add_line(deal, owner)
    barrier = threading.Barrier(2)
    errors: list = []

    def create(deal):
        def run():
            try:
                barrier.wait(10)
                for _ in range(5):
                    services.quote_create(deal=deal, by=owner, today=TODAY)
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    threads = [create(deal) for deal in deals]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    sequences = sorted(Quote.objects.filter(issuer=issuer, year=2026).values_list("sequence", flat=True))
    assert sequences == list(range(1, 11))  # ten quotes, ten numbers, no duplicate and no gap
