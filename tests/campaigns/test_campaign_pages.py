"""The campaign list and detail pages: numbers worked out by hand, sorting and filters, permissions, query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from campaigns.models import AttributionModel, CampaignCost
from campaigns.rebuild import attribution_rebuild_now
from leads.models import Campaign, Handoff
from pipeline.services import deal_close_won, deal_create
from tests.campaigns.factories import CostFactory, at, journey
from tests.leads.factories import CampaignFactory, HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

APRIL = "period=custom&start=2026-04-01&end=2026-04-30"
# Labels as the pages show them (Japanese by default): tests compare against the same translations.
TOO_EARLY = str(Handoff.RejectReason.TOO_EARLY.label)


def cells(html: str, campaign: Campaign) -> dict[str, str]:
    """{column: text} of the campaign's row in the list."""
    row = re.search(rf'<tr data-campaign="{campaign.pk}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {campaign}"
    return {
        col: " ".join(re.sub(r"<[^>]+>", " ", text).split())
        for col, text in re.findall(r'data-col="([a-z_]+)">(.*?)</td>', row.group(1), re.S)
    }


@pytest.fixture
def april(owner):
    """A small fixed month.

    Webinar A: costs 100,000 (4/1) + 50,000 (4/15) in April, 999,999 in March (outside the period).
    Whitepaper B: costs 200,000 (4/10).
    L1: A on 4/2, created 4/2; handed over and accepted 4/9.
    L2: A on 4/3, created 4/3, MQL 4/5; handed over and rejected "too early" 4/8.
    L3: B on 4/4 (created 4/4), then A on 4/6; a deal created 4/10, won 4/20 for 1,000,000.
    """
    a = CampaignFactory(name="ウェビナーA", utm_campaign="webinar-a", channel=Campaign.Channel.WEBINAR)
    b = CampaignFactory(name="資料B", utm_campaign="wp-b", channel=Campaign.Channel.WHITEPAPER)
    CostFactory(campaign=a, date=dt.date(2026, 4, 1), amount=Decimal(100_000))
    CostFactory(campaign=a, date=dt.date(2026, 4, 15), amount=Decimal(50_000))
    CostFactory(campaign=a, date=dt.date(2026, 3, 31), amount=Decimal(999_999))
    CostFactory(campaign=b, date=dt.date(2026, 4, 10), amount=Decimal(200_000))
    l1 = LeadFactory(created=at(2))
    journey(l1, (a, at(2, 11)))
    l2 = LeadFactory(created=at(3), mql_at=at(5))
    journey(l2, (a, at(3, 11)))
    l3 = LeadFactory(created=at(4))
    journey(l3, (b, at(4, 11)), (a, at(6)))
    HandoffFactory(lead=l1, campaign=a, state=Handoff.State.ACCEPTED, mql_at=at(8), decided_at=at(9))
    HandoffFactory(
        lead=l2,
        campaign=a,
        state=Handoff.State.REJECTED,
        reject_reason="too_early",
        mql_at=at(5),
        decided_at=at(8),
    )
    deal = deal_create(name="L3 商談", owner=owner, by=owner, contact=l3, created_at=at(10))
    deal_close_won(deal=deal, amount=Decimal(1_000_000), by=owner, at=at(20))
    attribution_rebuild_now()
    return a, b


def test_cpl_and_roi_on_the_list_equal_the_hand_computed_ones(marketer_client, april):
    a, b = april
    html = marketer_client.get(f"/campaigns/?{APRIL}&model=w").content.decode()

    # Counts are whole, by first touch, with the W-shaped credit beneath. A: 150,000 spent; leads L1 + L2 = 2;
    # MQLs: L2 = 1; deal: L3's journey is B (first, lead creation) then A (last before the deal), so the deal is
    # B's whole, and W-shaped credits A 1/3, B 2/3 (nothing in between: 30+30 / 30 scaled to 100 %).
    assert cells(html, a) == {
        "spend": "150,000円",
        "leads": f"2 {w_credit('2')}",
        "mqls": f"1 {w_credit('1')}",
        "verdict": "1 / 1 (50%) " + gettext("top: %(reason)s ×%(n)s") % {"reason": TOO_EARLY, "n": 1},
        "deals": f"0 {w_credit('0.3')}",
        "revenue_first": "0円",
        "revenue_last": "1,000,000円",
        "revenue_w": "333,333円",
        "cpl": "75,000円",  # 150,000 / 2
        "cost_per_mql": "150,000円",  # 150,000 / 1
        "cost_per_deal": "—",  # no deal brought in: no division by zero
        "roi": "122%",  # (333,333.33 − 150,000) / 150,000: revenue under the chosen model
    }
    assert cells(html, b) | {"verdict": ""} == {
        "spend": "200,000円",
        "leads": f"1 {w_credit('1')}",
        "mqls": f"0 {w_credit('0')}",
        "verdict": "",
        "deals": f"1 {w_credit('0.7')}",
        "revenue_first": "1,000,000円",
        "revenue_last": "0円",
        "revenue_w": "666,667円",
        "cpl": "200,000円",
        "cost_per_mql": "—",  # no MQL: no division by zero
        "cost_per_deal": "200,000円",  # 200,000 / 1
        "roi": "233%",  # (666,666.67 − 200,000) / 200,000
    }


def w_credit(value: str) -> str:
    """The W-shaped credit note beneath a whole count, as the page words it."""
    return gettext("%(model)s credit %(credit)s") % {
        "model": AttributionModel.W_SHAPED.label,
        "credit": value,
    }


def test_no_spend_shows_dashes_and_overspend_is_flagged(marketer_client, april):
    """A campaign with no recorded cost has no cost per lead ("—", not 0 yen) and no ROI; one that spent more in
    all than its budget says so on the list and on its page."""
    a, _b = april
    free = CampaignFactory(name="口コミ", utm_campaign="word-of-mouth")
    lead = LeadFactory(created=at(7))
    journey(lead, (free, at(7, 10)))
    Campaign.objects.filter(pk=a.pk).update(budget=1_000_000)  # 1,149,999 spent in all (March included)
    attribution_rebuild_now()

    html = marketer_client.get(f"/campaigns/?{APRIL}&model=first").content.decode()
    row = cells(html, free)
    assert (row["spend"], row["leads"], row["cpl"], row["roi"]) == ("0円", "1", "—", "—")
    over = gettext("Over budget")
    assert over in cells(html, a)["spend"] and over not in cells(html, _b)["spend"]
    detail = marketer_client.get(f"/campaigns/{a.pk}/?{APRIL}").content.decode()
    assert 'data-kpi="over-budget"' in detail


def test_the_verdict_names_the_periods_most_frequent_rejection_reason(marketer_client, april):
    """Beside each campaign's verdicts, the reason sales gave most often in the period (ties: in the reasons'
    order by code, so the page reads the same on every load); rejections outside the period do not count."""
    a, b = april
    reasons = {"no_budget": 2, "competitor": 1, "too_early": 0}  # with April's one "too early": 2, 1, 1
    for reason, n in reasons.items():
        for _i in range(n):
            HandoffFactory(
                campaign=a,
                state=Handoff.State.REJECTED,
                reject_reason=reason,
                mql_at=at(10),
                decided_at=at(12),
            )
    for _i in range(3):  # March: most frequent of all, but not in April
        HandoffFactory(
            campaign=a,
            state=Handoff.State.REJECTED,
            reject_reason="competitor",
            mql_at=at(1),
            decided_at=at(1) - dt.timedelta(days=3),
        )
    for reason in ("too_early", "competitor"):  # B: a tie of one each
        HandoffFactory(
            campaign=b, state=Handoff.State.REJECTED, reject_reason=reason, mql_at=at(10), decided_at=at(12)
        )
    top = gettext("top: %(reason)s ×%(n)s")

    html = marketer_client.get(f"/campaigns/?{APRIL}").content.decode()

    no_budget, competitor = Handoff.RejectReason.NO_BUDGET.label, Handoff.RejectReason.COMPETITOR.label
    assert cells(html, a)["verdict"] == "1 / 4 (20%) " + top % {"reason": no_budget, "n": 2}
    assert cells(html, b)["verdict"] == "0 / 2 (0%) " + top % {"reason": competitor, "n": 1}


def test_the_pages_lead_list_counts_what_its_header_counts(marketer_client, april):
    """The header's whole lead count and the "brought in" list agree: both are the leads the campaign brought
    in during the period; "touched" lists every lead it touched in the period."""
    a, _b = april

    def listed(query: str) -> tuple[str, set[str]]:
        html = marketer_client.get(f"/campaigns/{a.pk}/?{query}").content.decode()
        header = re.search(r'data-kpi="leads"[^>]*>([^<]*)<', html).group(1)
        section = html[html.index('id="leads"') :]
        return header, set(re.findall(r'href="/leads/(\d+)/"', section))

    header, brought_in = listed(f"{APRIL}&model=w&leads=first")
    assert header == "2" and len(brought_in) == 2  # L1 and L2
    _header, touched = listed(f"{APRIL}&leads=touched")
    assert len(touched) == 3 and brought_in < touched  # L3 too: its journey passed A on 4/6
    header, brought_in = listed("period=custom&start=2026-03-01&end=2026-03-31&leads=first")
    assert (header, brought_in) == ("0", set())  # March: nothing brought in, and nothing listed


def test_first_touch_model_changes_the_ratios_and_shows_dashes(marketer_client, april):
    a, _b = april
    html = marketer_client.get(f"/campaigns/?{APRIL}&model=first").content.decode()

    row = cells(html, a)
    assert (row["deals"], row["cost_per_deal"], row["roi"]) == ("0", "—", "-100%")


def test_the_detail_page_shows_the_same_numbers(marketer_client, april):
    a, _b = april
    html = marketer_client.get(f"/campaigns/{a.pk}/?{APRIL}&model=w").content.decode()

    kpis = dict(re.findall(r'data-kpi="([a-z_]+)"[^>]*>([^<]*)<', html))
    assert kpis["spend"] == "150,000円"
    assert kpis["cpl"] == "75,000円"
    assert kpis["cost_per_mql"] == "150,000円"
    assert kpis["cost_per_deal"] == "—"  # no deal brought in
    assert kpis["roi"] == "122%"
    assert kpis["acceptance"] == "50%"
    assert TOO_EARLY in html


def test_sorting_by_cpl_puts_the_cheapest_first_and_channel_filters(marketer_client, april):
    a, b = april
    html = marketer_client.get(f"/campaigns/?{APRIL}&sort=cpl").content.decode()
    assert html.index(f'data-campaign="{a.pk}"') < html.index(f'data-campaign="{b.pk}"')
    html = marketer_client.get(f"/campaigns/?{APRIL}&sort=-cpl").content.decode()
    assert html.index(f'data-campaign="{b.pk}"') < html.index(f'data-campaign="{a.pk}"')

    html = marketer_client.get(f"/campaigns/?{APRIL}&channel=whitepaper").content.decode()
    assert f'data-campaign="{b.pk}"' in html and f'data-campaign="{a.pk}"' not in html


def test_an_htmx_request_gets_only_the_results(marketer_client, april):
    response = marketer_client.get(f"/campaigns/?{APRIL}", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# Layout: session, the user (2). The page: the campaigns' count (1); the page's rows with their numbers, totals and
# top rejection reasons, the period's whole months from the monthly roll-ups (1); the "no campaign" line (1); the
# attribution state (1).
LIST_QUERIES = 6


def test_the_list_runs_the_same_queries_for_more_campaigns(marketer_client, april, django_assert_num_queries):
    url = f"/campaigns/?{APRIL}"
    few = _count_queries(marketer_client, url)
    for _ in range(6):
        c = CampaignFactory()
        CostFactory(campaign=c, date=dt.date(2026, 4, 3))
        journey(LeadFactory(created=at(3)), (c, at(3, 11)))
    attribution_rebuild_now()
    assert _count_queries(marketer_client, url) == few
    for query in (APRIL, "period=12m&sort=-roi", "period=custom&start=2026-03-31&end=2026-05-01"):
        with django_assert_num_queries(LIST_QUERIES):
            assert marketer_client.get(f"/campaigns/?{query}").status_code == 200


def test_a_marketer_creates_a_campaign_with_a_utm_code(marketer_client, marketer):
    response = marketer_client.post(
        "/campaigns/new/",
        {
            "name": "残業削減ウェビナー 第2回",
            "channel": "webinar",
            "objective": "lead_generation",
            "status": "planned",
            "budget": "300000",
            "utm_campaign": "webinar-overtime-2",
            "owner": marketer.pk,
        },
    )
    campaign = Campaign.objects.get(utm_campaign="webinar-overtime-2")
    assert response.status_code == 302 and response["Location"] == campaign.get_absolute_url()
    assert campaign.owner == marketer


def test_a_utm_code_must_be_unique_and_plain(marketer_client, marketer):
    CampaignFactory(utm_campaign="taken")
    base = {
        "name": "x",
        "channel": "webinar",
        "objective": "lead_generation",
        "status": "planned",
        "budget": "0",
    }
    html = marketer_client.post("/campaigns/new/", base | {"utm_campaign": "taken"}).content.decode()
    assert gettext("Another campaign already uses this UTM code.") in html
    assert Campaign.objects.filter(utm_campaign="taken").count() == 1
    html = marketer_client.post("/campaigns/new/", base | {"utm_campaign": "has space"}).content.decode()
    assert not Campaign.objects.filter(name="x").exists()


def test_costs_are_added_and_deleted_on_the_campaign_page(marketer_client):
    campaign = CampaignFactory()
    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/costs/", {"date": "2026-04-01", "amount": "120000", "description": "4月分"}
    )
    assert response.status_code == 302
    cost = CampaignCost.objects.get(campaign=campaign)
    assert (cost.amount, cost.description) == (Decimal(120_000), "4月分")
    marketer_client.post(f"/campaigns/{campaign.pk}/costs/{cost.pk}/delete/")
    assert not CampaignCost.objects.exists()
    marketer_client.post(f"/campaigns/{campaign.pk}/costs/", {"date": "2026-04-01", "amount": "-5"})
    assert not CampaignCost.objects.exists()


def test_a_sales_rep_sees_campaigns_but_cannot_change_them(rep_client):
    campaign = CampaignFactory()
    assert rep_client.get("/campaigns/").status_code == 200
    assert rep_client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    assert rep_client.get("/campaigns/dashboard/").status_code == 200
    for method, url in [
        ("get", "/campaigns/new/"),
        ("post", "/campaigns/new/"),
        ("get", f"/campaigns/{campaign.pk}/edit/"),
        ("post", f"/campaigns/{campaign.pk}/costs/"),
        ("get", "/campaigns/costs/import/"),
        ("get", "/campaigns/personas/new/"),
        ("post", "/campaigns/personas/rematch/"),
    ]:
        assert getattr(rep_client, method)(url).status_code == 403, url
    html = rep_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert gettext("Edit campaign") not in html and gettext("Add cost") not in html


def test_pages_need_a_login(client):
    response = client.get("/campaigns/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_rep_sees_only_their_teams_leads_in_the_campaign_leads(rep_client, rep, outsider):
    campaign = CampaignFactory()
    mine = LeadFactory(created=at(2), owner=rep, first_touch_campaign=campaign, name="自分の見込")
    other = LeadFactory(created=at(2), owner=outsider, first_touch_campaign=campaign, name="他課の見込")
    journey(mine, (campaign, at(2, 10)))
    journey(other, (campaign, at(2, 10)))
    attribution_rebuild_now()
    html = rep_client.get(f"/campaigns/{campaign.pk}/?{APRIL}").content.decode()
    assert mine.name in html and other.name not in html
