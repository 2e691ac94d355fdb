"""The forecast, worked out by hand: weighted, commit and best case by month; won counts as closed; lost never."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.selectors import BoardFilters, forecast
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
D = Decimal


@pytest.fixture
def book(owner, teammate, stages):
    """Owner's deals around January–March 2027, plus one of a teammate's."""
    mk = make_deal
    mk(
        owner=owner, stage=stages["Proposal"], amount=1_000_000, expected_close_date=dt.date(2027, 1, 15)
    )  # 40 %
    mk(
        owner=owner,
        stage=stages["Quote & negotiation"],
        amount=2_000_000,
        expected_close_date=dt.date(2027, 1, 31),
    )
    mk(
        owner=owner,
        stage=stages["Discovery"],
        amount=500_000,
        probability=75,
        expected_close_date=dt.date(2027, 2, 10),
    )
    lost = mk(
        owner=owner, stage=stages["Proposal"], amount=3_000_000, expected_close_date=dt.date(2027, 2, 20)
    )
    services.deal_close_lost(deal=lost, cause="price", side="external", by=owner)
    won = mk(owner=owner, amount=1_000_000, expected_close_date=dt.date(2027, 3, 1))
    services.deal_close_won(deal=won, amount=1_200_000, by=owner, at=dt.datetime(2027, 2, 5, 10, tzinfo=JST))
    late_evening = mk(owner=owner, amount=100_000, expected_close_date=dt.date(2027, 1, 1))
    services.deal_close_won(
        deal=late_evening, amount=100_000, by=owner, at=dt.datetime(2027, 3, 31, 23, 30, tzinfo=JST)
    )
    before = mk(owner=owner, amount=900_000)
    services.deal_close_won(
        deal=before, amount=900_000, by=owner, at=dt.datetime(2026, 12, 20, 12, tzinfo=JST)
    )
    mk(owner=owner, amount=800_000, expected_close_date=dt.date(2026, 12, 1))  # still open, date passed: 10 %
    mk(owner=owner, amount=7_000_000, expected_close_date=dt.date(2027, 4, 1))  # after the range
    mk(
        owner=teammate,
        stage=stages["Quote & negotiation"],
        amount=4_000_000,
        expected_close_date=dt.date(2027, 1, 20),
    )


def _row(result, month):
    return next(r for r in result.rows if r.month == month)


def test_forecast_by_month_for_a_rep(owner, book):
    result = forecast(viewer=owner, filters=BoardFilters(), start=dt.date(2027, 1, 1), months=3)

    jan, feb, mar = (_row(result, dt.date(2027, m, 1)) for m in (1, 2, 3))
    assert (jan.count, jan.pipeline, jan.won) == (2, D(3_000_000), D(0))
    assert (jan.weighted, jan.commit, jan.best_case) == (D(1_800_000), D(2_000_000), D(3_000_000))
    assert (feb.count, feb.pipeline, feb.won, feb.won_count) == (1, D(500_000), D(1_200_000), 1)
    assert (feb.weighted, feb.commit, feb.best_case) == (D(1_575_000), D(1_700_000), D(1_700_000))
    # closed at 23:30 on 31 March in Tokyo (14:30 UTC): March, not April
    assert (mar.count, mar.won, mar.weighted, mar.commit, mar.best_case) == (
        0,
        D(100_000),
        D(100_000),
        D(100_000),
        D(100_000),
    )

    overdue = result.overdue
    assert (overdue.count, overdue.pipeline, overdue.weighted, overdue.commit) == (
        1,
        D(800_000),
        D(80_000),
        D(0),
    )

    total = result.total
    assert (total.count, total.pipeline, total.won) == (4, D(4_300_000), D(1_300_000))
    assert (total.weighted, total.commit, total.best_case) == (D(3_555_000), D(3_800_000), D(5_600_000))


def test_a_managers_team_forecast_includes_teammates(manager, book):
    result = forecast(viewer=manager, filters=BoardFilters(scope="team"), start=dt.date(2027, 1, 1), months=3)
    jan = _row(result, dt.date(2027, 1, 1))
    assert (jan.count, jan.pipeline, jan.commit) == (3, D(7_000_000), D(6_000_000))


def test_the_forecast_page_shows_the_figures(owner_client, book):
    html = owner_client.get(reverse("pipeline:forecast"), {"from": "2027-01", "months": "3"}).content.decode()
    for figure in ("1,800,000円", "1,575,000円", "3,555,000円", "5,600,000円"):
        assert figure in html
    assert "2027年1月" in html


def test_the_forecast_table_alone_for_htmx(owner_client, book):
    html = owner_client.get(
        reverse("pipeline:forecast"), {"from": "2027-01", "months": "3"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert html.lstrip().startswith('<div id="forecast">')
