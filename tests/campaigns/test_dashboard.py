"""The marketers' dashboard: a fixed number of queries whatever the data, and the stories it must tell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from campaigns.models import AttributionState
from campaigns.rebuild import attribution_rebuild_now
from campaigns.segments import SENIORITY_LABELS
from leads.models import Campaign, Company, Handoff
from pipeline.services import deal_close_won, deal_create
from tests.campaigns.factories import CostFactory, PersonaRuleFactory, at, journey
from tests.leads.factories import (
    CampaignFactory,
    CompanyFactory,
    HandoffFactory,
    LeadFactory,
    PersonaFactory,
    TouchFactory,
)

pytestmark = pytest.mark.django_db

APRIL = "period=custom&start=2026-04-01&end=2026-04-30"
TOO_EARLY = str(Handoff.RejectReason.TOO_EARLY.label)


def make_month(n: int, owner, *, start: int = 0) -> None:
    """n leads over April from a few campaigns of different channels, with MQLs, handoffs, deals and visits."""
    channels = [Campaign.Channel.WHITEPAPER, Campaign.Channel.WEBINAR, Campaign.Channel.WEB_AD]
    campaigns = [CampaignFactory(channel=c) for c in channels]
    for c in campaigns:
        CostFactory(campaign=c, date=dt.date(2026, 4, 1))
    for i in range(start, start + n):
        day = 1 + i % 28
        company = CompanyFactory(employee_count=[20, 150, 800, 3000][i % 4], industry="manufacturing")
        lead = LeadFactory(
            created=at(day), company=company, title=["担当", "部長", "課長"][i % 3], total_score=i % 70
        )
        campaign = campaigns[i % 3]
        TouchFactory(lead=lead, campaign=None, occurred_at=at(day, 9))  # a page view
        journey(lead, (campaign, at(day, 11)))
        if i % 3 == 0:
            lead.mql_at = at(min(day + 1, 30))
            lead.save(update_fields=["mql_at"])
            HandoffFactory(
                lead=lead,
                campaign=campaign,
                state=Handoff.State.REJECTED if i % 2 else Handoff.State.ACCEPTED,
                reject_reason="too_early" if i % 2 else "",
                mql_at=lead.mql_at,
                decided_at=at(min(day + 1, 30), 15),
            )
        if i % 5 == 0:
            deal = deal_create(
                name=f"商談 {i}", owner=owner, by=owner, contact=lead, created_at=at(min(day + 1, 30))
            )
            if i % 10 == 0:
                deal_close_won(deal=deal, amount=Decimal(500_000), by=owner, at=at(min(day + 2, 30)))
    attribution_rebuild_now()


@pytest.fixture(autouse=True)
def _scoring_config():
    """The shared MQL definition exists in every running install (created on first use)."""
    from leads.models import ScoringConfig

    ScoringConfig.get()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# Layout: session, the user with team and unread count (2). The page: the attribution state (1); one statement
# with attribution by bucket and channel and by campaign, sales' verdicts, personas, segment counts and costs (1);
# the MQL threshold (1); the ten warming leads, with their count when the sweep's will not do (1); what became of
# the period's marketing e-mail, broadcasts and steps in one statement (1: nurture.mail.selectors.email_totals).
DASHBOARD_QUERIES = 7


def test_the_dashboard_runs_the_same_number_of_queries_for_more_data(marketer_client, owner):
    make_month(6, owner)
    url = f"/campaigns/dashboard/?{APRIL}"
    few = _queries(marketer_client, url)

    make_month(30, owner, start=6)
    more = _queries(marketer_client, url)

    assert more == few == DASHBOARD_QUERIES
    assert 'id="email"' in marketer_client.get(url).content.decode()  # the e-mail figures, for marketing
    # without the sweep's count of warming leads, they are counted beside the list, in the same query
    AttributionState.objects.update(score_bands={})
    assert _queries(marketer_client, url) == DASHBOARD_QUERIES


@pytest.mark.parametrize("dimension", ["persona", "awareness", "seniority", "industry", "size"])
def test_every_split_of_who_visits_renders_with_the_same_queries(marketer_client, owner, dimension):
    make_month(9, owner)
    url = f"/campaigns/dashboard/?{APRIL}&dimension={dimension}"
    assert _queries(marketer_client, url) == _queries(marketer_client, f"/campaigns/dashboard/?{APRIL}")
    html = marketer_client.get(url + "&part=who", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section class="card" id="who">')


def test_a_whitepaper_with_too_early_leads_shows_low_acceptance_and_the_reason(marketer_client):
    """User journey 2: sales rejects the whitepaper's MQLs as "too early"; marketing sees it."""
    wp = CampaignFactory(name="SFA導入ガイド", channel=Campaign.Channel.WHITEPAPER)
    webinar = CampaignFactory(name="残業削減ウェビナー", channel=Campaign.Channel.WEBINAR)
    for i in range(5):
        lead = LeadFactory(created=at(3))
        HandoffFactory(
            lead=lead,
            campaign=wp,
            state=Handoff.State.ACCEPTED if i == 0 else Handoff.State.REJECTED,
            reject_reason="" if i == 0 else ("too_early" if i < 4 else "not_a_fit"),
            reject_note="資料を見ただけ、検討は来期",
            mql_at=at(4),
            decided_at=at(5),
        )
    HandoffFactory(
        lead=LeadFactory(), campaign=webinar, state=Handoff.State.ACCEPTED, mql_at=at(4), decided_at=at(5)
    )

    html = marketer_client.get(f"/campaigns/dashboard/?{APRIL}").content.decode()
    quality = html[html.index('id="quality"') :]
    assert "SFA導入ガイド" in quality and "20%" in quality
    assert f"{TOO_EARLY} ×3" in quality

    detail = marketer_client.get(f"/campaigns/{wp.pk}/?{APRIL}").content.decode()
    assert f'class="top-reason"><td>{TOO_EARLY}</td>' in detail
    assert "資料を見ただけ、検討は来期" in detail


def test_who_visits_vs_who_buys_shows_the_shift(marketer_client, owner):
    """User journey 4: most visitors are staff at small firms, the buyers are directors at large ones."""
    small = CompanyFactory(employee_count=30)
    large = CompanyFactory(employee_count=2000)
    for _ in range(8):
        visitor = LeadFactory(created=at(2), title="担当", company=small)
        TouchFactory(lead=visitor, occurred_at=at(2, 9))
    for i in range(2):
        buyer = LeadFactory(created=at(3), title="情報システム部 部長", company=large)
        TouchFactory(lead=buyer, occurred_at=at(3, 9))
        deal = deal_create(name=f"商談 {i}", owner=owner, by=owner, contact=buyer, created_at=at(4))
        deal_close_won(deal=deal, amount=Decimal(1_000_000), by=owner, at=at(10))
    attribution_rebuild_now()

    d = marketer_client.get(f"/campaigns/dashboard/?{APRIL}&dimension=seniority").context["d"]
    rows = {row["label"]: row for row in d.who["rows"]}
    visit, won = 0, -1
    staff, directors = str(SENIORITY_LABELS["staff"]), str(SENIORITY_LABELS["director"])
    assert rows[staff]["shares"][visit] == pytest.approx(0.8)
    assert rows[staff]["shares"][won] == 0
    assert rows[directors]["shares"][won] == 1
    assert rows[directors]["lift"] == pytest.approx(5)


def test_warming_leads_are_those_just_under_the_threshold(marketer_client):
    from leads.models import ScoringConfig

    ScoringConfig.objects.update_or_create(pk=1, defaults={"fit_threshold": 15, "total_threshold": 50})
    close = LeadFactory(total_score=46, fit_score=20, name="もう少し")
    LeadFactory(total_score=10, name="まだまだ")
    LeadFactory(total_score=70, lifecycle_stage="mql", name="もうMQL")
    d = marketer_client.get("/campaigns/dashboard/").context["d"]
    assert [lead.pk for lead in d.warming] == [close.pk]
    assert d.warming[0].gap == 4
    assert d.warming_count == 1  # no sweep has counted them: counted with the list
    for n in range(11):
        LeadFactory(total_score=40 + n % 5, fit_score=20, name=f"あと少し {n}")
    d = marketer_client.get("/campaigns/dashboard/").context["d"]
    assert len(d.warming) == 10 and d.warming_count == 12  # every warming lead counted, ten listed


def test_warming_leads_are_counted_by_the_sweep_for_who_sees_every_lead(marketer_client):
    from campaigns.attribution import score_bands_refresh
    from leads.models import ScoringConfig

    ScoringConfig.objects.update_or_create(pk=1, defaults={"fit_threshold": 15, "total_threshold": 50})
    for n in range(12):
        LeadFactory(total_score=40 + n % 5, fit_score=20)
    score_bands_refresh()
    LeadFactory(total_score=45, fit_score=20)  # after the sweep: listed, not yet counted
    with CaptureQueriesContext(connection) as ctx:
        d = marketer_client.get("/campaigns/dashboard/").context["d"]
    assert len(d.warming) == 10 and d.warming_count == 12
    assert not any(" OVER " in q["sql"] for q in ctx.captured_queries)  # no count over the warming leads


def test_persona_mix_counts_new_leads_by_persona(marketer_client):
    persona = PersonaFactory(name="情シス部長")
    PersonaRuleFactory(persona=persona, title_contains="部長")
    for title in ("部長", "部長", "担当"):
        LeadFactory(created=at(5), title=title, company=CompanyFactory())
    attribution_rebuild_now()
    d = marketer_client.get(f"/campaigns/dashboard/?{APRIL}").context["d"]
    chart = d.persona_chart["data"]
    slice_label = gettext("%(label)s %(count)s (%(share)s%%)")
    assert dict(zip(chart["labels"], chart["datasets"][0]["data"], strict=True)) == {
        slice_label % {"label": "情シス部長", "count": "2", "share": 67}: 2,  # the legend says the values
        slice_label % {"label": gettext("No persona"), "count": "1", "share": 33}: 1,
    }
    assert Company.objects.count() == 3
