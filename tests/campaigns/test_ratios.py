"""The marketing ratios are defined once (leads.ratios): a campaign's page and the KPI registry give the same
figure for the same data."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from campaigns.periods import period_resolve
from campaigns.rebuild import attribution_rebuild_now
from campaigns.selectors import campaign_detail
from kpis.periods import Period
from kpis.registry import compute
from leads import ratios
from leads.models import Campaign, Handoff
from pipeline.services import deal_close_won, deal_create_from_handoff
from salesmarketing.templatetags.sm import pct, yen
from tests.campaigns.factories import CostFactory, at, journey
from tests.leads.factories import CampaignFactory, HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

APRIL = "period=custom&start=2026-04-01&end=2026-04-30"


@pytest.fixture
def only_campaign(owner) -> Campaign:
    """One campaign brings every lead of April, so its numbers and the company's are the same numbers.

    Costs 90,000 + 35,000 in April (125,000), 500,000 in March (outside). Three leads; L1 and L2 become MQLs;
    sales accept L1 (a deal, won for 400,000) and reject L2.
    """
    webinar = CampaignFactory(name="ウェビナー", utm_campaign="webinar", channel=Campaign.Channel.WEBINAR)
    CostFactory(campaign=webinar, date=dt.date(2026, 4, 1), amount=Decimal(90_000))
    CostFactory(campaign=webinar, date=dt.date(2026, 4, 20), amount=Decimal(35_000))
    CostFactory(campaign=webinar, date=dt.date(2026, 3, 31), amount=Decimal(500_000))
    l1 = LeadFactory(created=at(2), mql_at=at(6))
    l2 = LeadFactory(created=at(3), mql_at=at(5))
    l3 = LeadFactory(created=at(4))
    for lead, day in ((l1, 2), (l2, 3), (l3, 4)):
        journey(lead, (webinar, at(day, 11)))
    accepted = HandoffFactory(
        lead=l1, campaign=webinar, owner=owner, state=Handoff.State.ACCEPTED, mql_at=at(6), decided_at=at(9)
    )
    HandoffFactory(
        lead=l2,
        campaign=webinar,
        state=Handoff.State.REJECTED,
        reject_reason="too_early",
        mql_at=at(5),
        decided_at=at(8),
    )
    deal = deal_create_from_handoff(handoff=accepted, by=owner)
    deal_close_won(deal=deal, amount=Decimal(400_000), by=owner, at=at(20))
    attribution_rebuild_now()
    return webinar


def test_a_campaign_and_the_kpi_registry_give_the_same_ratios(only_campaign):
    numbers = campaign_detail(
        campaign=only_campaign,
        period=period_resolve("custom", dt.date(2026, 4, 1), dt.date(2026, 4, 30)),
        model="w",
    ).numbers
    kpi = compute([Period.between(dt.date(2026, 4, 1), dt.date(2026, 4, 30))], fresh=True)[0]

    assert (numbers.cpl, kpi["cost_per_lead"]) == (41_667, 41_667)  # 125,000 / 3, whole yen
    assert (numbers.cost_per_mql, kpi["cost_per_mql"]) == (62_500, 62_500)  # 125,000 / 2
    assert numbers.roi == kpi["roi"] == pytest.approx(2.2)  # (400,000 − 125,000) / 125,000
    assert numbers.acceptance == kpi["lead_quality"] == 0.5  # 1 accepted of 2 decided


def test_the_campaign_page_shows_the_registry_figures(marketer_client, only_campaign):
    html = marketer_client.get(f"/campaigns/{only_campaign.pk}/?{APRIL}&model=w").content.decode()
    shown = dict(re.findall(r'data-kpi="([a-z_]+)"[^>]*>([^<]*)<', html))
    kpi = compute([Period.between(dt.date(2026, 4, 1), dt.date(2026, 4, 30))], fresh=True)[0]

    assert shown["cpl"] == yen(kpi["cost_per_lead"])
    assert shown["cost_per_mql"] == yen(kpi["cost_per_mql"])
    assert shown["roi"] == pct(kpi["roi"], 0)
    assert shown["acceptance"] == pct(kpi["lead_quality"], 0)


def test_a_ratio_is_none_on_a_zero_denominator_and_rounds_as_the_registry_stores():
    assert ratios.CPL.rounded({"spend": 100_000, "leads": 0}) is None
    assert ratios.ROI.rounded({"revenue": 50, "spend": 0}) is None
    assert ratios.ACCEPTANCE.rounded({"accepted": 0, "rejected": 0}) is None
    assert ratios.CPL.rounded({"spend": 100_000, "leads": 3}) == 33_333
    assert ratios.ACCEPTANCE.rounded({"accepted": 1, "rejected": 2}) == 0.333333
    assert ratios.CPL.bind(spend="cost", leads="leads_all").measures == ("cost", "leads_all")


@pytest.mark.parametrize(
    ("ratio", "parts", "expected"),
    [
        (ratios.CPL, {"spend": 150_000, "leads": 4}, 37_500),
        (ratios.CPL, {"spend": 0, "leads": 4}, None),  # no cost recorded: unknown, not free
        (ratios.CPL, {"spend": 150_000, "leads": 0}, None),  # nothing came in
        (ratios.COST_PER_DEAL, {"spend": 0, "deals": 2}, None),
        (ratios.ROI, {"revenue": 300_000, "spend": 0}, None),
        (ratios.ROI, {"revenue": 0, "spend": 100_000}, -1.0),  # spent, nothing won yet: a real −100 %
        (ratios.ACCEPTANCE, {"accepted": 0, "rejected": 3}, 0.0),  # a share of zero is still a share
    ],
)
def test_a_ratio_without_a_base_is_unknown(ratio, parts, expected):
    assert ratio.rounded(parts) == expected


def test_the_sql_form_agrees_for_a_cost_without_spend():
    """The list sorts by the SQL form: it must say NULL (sorted last) exactly where the Python form says None."""
    sql = ratios.CPL.sql(lambda role: f"n.{role}")
    assert sql == "1.0 * NULLIF(n.spend, 0) / NULLIF(n.leads, 0)"
