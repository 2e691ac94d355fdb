"""The shared dashboard, drill-downs, the weekly review and its action items, targets and hand-entered values."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from campaigns.models import CampaignCost
from kpis import services
from kpis.models import ActionItem, ManualKpiValue, Target
from kpis.periods import Period
from leads.models import Campaign, Handoff, Lead
from leads.services import lead_upsert
from pipeline import services as deals
from quotes import services as quotes
from salesmarketing.models import User
from tests.kpis.conftest import jst
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db
W47 = Period.parse("2026-W47")


def _more_rows(n: int, *, owner, outsider, campaign, start: int = 0) -> None:
    """n more of every kind of record in W47: leads, handoffs (accepted, rejected, breached), deals won and lost
    with customer voices, costs and action items."""
    for i in range(start, start + n):
        lead, _created = lead_upsert(email=f"more{i}@example.jp", source="manual", name=f"追加 {i}")
        Lead.objects.filter(pk=lead.pk).update(created_at=jst(11, 17, 9), first_touch_campaign=campaign)
        rep = owner if i % 2 else outsider
        Handoff.objects.create(
            lead=lead,
            owner=rep,
            team=rep.team,
            state="rejected" if i % 3 == 0 else "accepted",
            reject_reason="not_a_fit" if i % 3 == 0 else "",
            campaign=campaign,
            mql_at=jst(11, 17, 10),
            assigned_at=jst(11, 17, 10),
            sla_due_at=jst(11, 17, 14),
            first_touch_at=jst(11, 17, 15),  # breached
            decided_at=jst(11, 18, 10),
        )
        deal = deals.deal_create(
            name=f"追加商談 {i}", owner=rep, by=rep, source="marketing", created_at=jst(11, 17, 12)
        )
        if i % 2:
            deals.deal_close_won(deal=deal, amount=1_000_000, by=rep, at=jst(11, 19, 12), notify=False)
        else:
            deals.deal_close_lost(
                deal=deal, cause="competitor", side="external", note="他社に決定", by=rep, at=jst(11, 19, 12)
            )
        deals.activity_log(
            by=rep,
            deal=deal,
            type="call",
            subject="ヒアリング",
            is_voice=True,
            voice_text="残業が多い",
            occurred_at=jst(11, 18, 11),
        )
        CampaignCost.objects.create(campaign=campaign, date=dt.date(2026, 11, 18), amount=10_000)
        services.action_item_create(
            title=f"対応 {i}", owner=rep, due_date=dt.date(2026, 11, 30), week=W47, by=rep
        )


# --- the shared dashboard ---------------------------------------------------------------------------------


def test_the_home_page_is_the_shared_dashboard(client, owner, kpi_data, frozen_now):
    client.force_login(owner)
    response = client.get("/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Dashboard</h1>" in html
    card = re.search(r'id="card-opportunities_marketing_sourced".*?</article>', html, re.S).group(0)
    assert ">2</a>" in card  # 商談化数 for the week, linked to its records
    assert reverse("kpis:drilldown", args=["opportunities_marketing_sourced"]) + "?period=2026-W47" in card
    assert html.index('id="card-opportunities_marketing_sourced"') < html.index(
        'id="card-revenue"'
    )  # 商談化数 first
    funnel = re.search(r'<ol class="funnel">.*?</ol>', html, re.S).group(0)
    assert [int(v) for v in re.findall(r'class="funnel-value"[^>]*>(\d+)<', funnel)] == [4, 3, 4, 2, 2, 1]


def test_the_funnel_never_shows_a_conversion_above_100_percent(client, owner, kpi_data, frozen_now):
    """Period counts, not a cohort: W47 has 4 MQLs from 3 leads, which would read as "133%"; it is said to be
    more than the step before instead."""
    client.force_login(owner)
    for url in ("/?period=2026-W47", "/kpis/weekly/?week=2026-W47"):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        funnel = re.search(r'<ol class="funnel">.*?</ol>', html, re.S).group(0)
        ratios = re.findall(r'class="funnel-conv">(.*?)</span>', funnel, re.S)
        assert ratios == [
            "",
            "75.0%",
            "more than the step before",
            "50.0%",
            "100.0%",
            "50.0%",
        ]
        assert "Ratio to previous" in funnel


def test_a_lower_is_better_card_says_on_or_off_track(client, manager, kpi_data, frozen_now):
    services.target_set(
        kpi="speed_to_lead_minutes",
        period_kind="week",
        team=None,
        value=Decimal(60),
        by=manager,
        today=dt.date(2026, 11, 16),
    )
    client.force_login(manager)
    html = client.get("/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    card = re.search(r'id="card-speed_to_lead_minutes".*?</article>', html, re.S).group(0)
    assert "Off track" in card  # a median of 3h 45m against 1h
    assert not re.search(r"-?\d+%", re.sub(r'data-[\w-]+="[^"]*"', "", card))


def test_an_empty_period_shows_dashes_not_errors(client, owner, db):
    client.force_login(owner)
    html = client.get("/?period=2020-W01", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    win_rate = re.search(r'id="card-win_rate".*?</article>', html, re.S).group(0)
    assert 'class="kpi-value"' in win_rate and ">—</a>" in win_rate


def test_period_and_team_switches_are_real_links_that_htmx_swaps(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get("/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    team_link = f"?period=2026-W47&amp;team={kpi_data.t1.pk}"
    assert f'href="{team_link}" hx-get="{team_link}" hx-target="#dashboard-body"' in html
    assert 'href="?period=month"' in html

    partial = client.get(
        f"/?period=2026-W47&team={kpi_data.t1.pk}", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
    )
    body = partial.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="dashboard-body"')
    assert partial["Vary"] and "HX-Request" in partial["Vary"]
    card = re.search(r'id="card-leads_acquired".*?</article>', body, re.S).group(0)
    assert ">1</a>" in card  # T1's leads


def test_a_bad_period_answers_400_saying_what_was_wrong(client, owner, db):
    # It used to show the current week instead, under a warning easy to miss: numbers of another week than
    # the one asked for. Now it is a 400 page in the layout, like a period out of range (issue #16).
    client.force_login(owner)
    response = client.get("/?period=2026-W99", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "2026-W99 is not an ISO week." in response.content.decode()


def test_the_previous_week_is_what_its_meeting_saw(client, manager, kpi_data, frozen_now):
    services.snapshot_freeze_week(week=W47.previous(), team=None)
    Lead.objects.filter(email="l2@one.example.jp").update(created_at=jst(11, 10, 9))
    l3 = Lead.objects.get(email="l3@two.example.jp")
    Lead.objects.filter(pk=l3.pk).update(created_at=jst(11, 11, 9))  # W46 now has 2 leads, frozen with 1
    from kpis.selectors import dashboard

    card = next(f for f in dashboard(period=W47, team=None, teams=[]).cards if f.key == "leads_acquired")
    assert (card.value, card.previous) == (2, 1)


def test_cards_show_target_pacing_and_progress(client, manager, kpi_data):
    now = jst(11, 19, 12)  # Thursday noon: 3.5 of 7 days gone
    Target.objects.create(
        kpi="leads_acquired", period_kind="week", value=10, effective_from=dt.date(2026, 1, 5)
    )
    from kpis.selectors import dashboard

    board = dashboard(period=W47, team=None, teams=[], now=now)
    card = next(f for f in board.cards if f.key == "leads_acquired")
    assert card.target == 10 and card.expected == pytest.approx(5.0)
    assert card.value == 3 and card.on_track is False  # behind the pace of 5 by Thursday noon
    assert card.previous == 1 and card.change == pytest.approx(2.0)  # +200 % on W46


# Layout: session, the user with their team and unread count (2); teams (1); the KPI engine, every KPI for the eight
# periods of the trend: the generations of the days the cache keys values by (1) and one statement with every
# table's aggregates and the hand-entered values (1); last week's snapshot (1); targets (1). The same whether the
# closed periods come from the cache or not, for a running month too (no snapshot: one less).
DASHBOARD_QUERIES = 7
MONTH_QUERIES = DASHBOARD_QUERIES - 1


def test_the_dashboard_runs_the_same_queries_for_few_and_many_rows(
    client, manager, owner, outsider, kpi_data, frozen_now, django_assert_num_queries
):
    client.force_login(manager)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/?period=2026-W47").status_code == 200
    _more_rows(12, owner=owner, outsider=outsider, campaign=kpi_data.campaign)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(f"/?period=2026-W47&team={kpi_data.t1.pk}").status_code == 200
    services.snapshot_freeze_week(week=W47.previous(), team=None)
    # the new rows changed W47's days: computed again once, then from the cache, in the same statements
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/?period=2026-W47").status_code == 200
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/?period=2026-W47").status_code == 200
    cache.clear()
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/?period=2026-W47").status_code == 200
    with django_assert_num_queries(MONTH_QUERIES):
        assert client.get("/?period=2026-11").status_code == 200
    # the closed months and the days before today from the cache
    with django_assert_num_queries(MONTH_QUERIES):
        assert client.get("/?period=2026-11").status_code == 200


# --- drill-downs -------------------------------------------------------------------------------------------


def test_a_drilldown_lists_the_records_behind_a_number(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get("/kpis/win_rate/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "66.7%" in html
    rows = re.findall(r"<tr>\s*<td>(?:<a [^>]*>)?(D\d)", html)
    assert sorted(rows) == ["D1", "D3", "D4"]
    assert html.count('class="counted-yes"') == 2


def test_the_quote_acceptance_drilldown_lists_the_quotes_sent_and_marks_the_accepted(
    client, manager, outsider, kpi_data, frozen_now
):
    q1, q2, q3 = kpi_data.quotes
    client.force_login(manager)
    html = client.get(
        "/kpis/quote_acceptance_rate/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "50.0%" in html
    assert q1.display_number in html and q2.display_number in html and q3.number not in html
    assert html.count('class="counted-yes"') == 1
    client.force_login(outsider)  # a rep lists the quotes of the deals they may open
    html = client.get(
        "/kpis/quote_acceptance_rate/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert q2.display_number in html and q1.display_number not in html


def test_a_drilldown_for_a_team_and_an_unknown_kpi(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get(f"/kpis/deals_won/?period=2026-W47&team={kpi_data.t1.pk}").content.decode()
    rows = re.findall(
        r"<tr>\s*<td>(?:<a [^>]*>)?(D\d)", html
    )  # (a bare "D3" could also be in the CSRF token)
    assert rows == ["D1"]
    assert client.get("/kpis/no_such_kpi/").status_code == 404


def test_a_rep_lists_only_the_records_they_may_open(client, outsider, kpi_data, frozen_now):
    client.force_login(outsider)
    html = client.get("/kpis/deals_won/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = re.findall(r"<tr>\s*<td>(?:<a [^>]*>)?(D\d)", html)
    assert rows == ["D3"]  # D1 is another team's
    assert "the list shows the ones you may open" in html


def test_drilldowns_paginate_with_a_fixed_number_of_queries(
    client, manager, owner, outsider, kpi_data, frozen_now, django_assert_num_queries
):
    client.force_login(manager)
    _more_rows(3, owner=owner, outsider=outsider, campaign=kpi_data.campaign)
    # layout 2, teams 1, engine (the leads table only) 1, count 1, page 1
    with django_assert_num_queries(6):
        client.get("/kpis/leads_acquired/?period=2026-W47")
    _more_rows(60, owner=owner, outsider=outsider, campaign=kpi_data.campaign, start=3)
    with django_assert_num_queries(6):
        html = client.get(
            "/kpis/leads_acquired/?period=2026-W47&page=2", HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    assert "Page 2 of 2" in html


# --- the weekly review -------------------------------------------------------------------------------------


def test_the_weekly_review_opens_on_last_week(client, manager, db, frozen_now):
    client.force_login(manager)
    html = client.get("/kpis/weekly/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2026-W47" in html  # the last complete week on Wednesday 25 November
    assert 'href="?week=2026-W46"' in html and 'href="?week=2026-W48"' in html  # W48: in progress
    html = client.get("/kpis/weekly/?week=2026-W48", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Week in progress" in html and 'href="?week=2026-W49"' not in html  # W49 has not begun


def test_the_weekly_review_shows_the_meetings_sections(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    kpi_rows = re.findall(r'<tr id="kpi-(\w+)"', html)
    assert kpi_rows[0] == "opportunities_marketing_sourced"  # 商談化数 first
    assert "D1" in html and "D3" in html  # deals won
    lost = re.search(r'id="h-lost".*?</section>', html, re.S).group(0)
    assert "Price" in lost and "3割高い" in lost  # D4's cause and note
    tally = re.search(r'id="lost-tally".*?</table>', html, re.S).group(0)
    assert "Timing" in tally and "Price" in tally  # D5 (W46) and D4 (W47) in the four weeks' tally
    handoffs = re.search(r'id="h-handoffs".*?</section>', html, re.S).group(0)
    assert "l3" in handoffs and "資料を見ただけ" in handoffs and "Too early" in handoffs
    assert "Campaign reactions" in html and "@media print" not in html


def test_the_weekly_reviews_campaign_reactions_rank_every_campaign_of_the_week(
    client, manager, db, frozen_now
):
    """Most leads: by leads, MQLs, then the cheaper; highest cost per lead: the spenders not listed already, those
    that drew nothing first (the biggest spend first), then by cost per lead. Each links to its campaign."""

    def campaign(name: str, *, leads: int, cost: int, channel: str = "webinar") -> Campaign:
        c = Campaign.objects.create(name=name, channel=channel, utm_campaign=f"review-{name}")
        for i in range(leads):
            lead, _created = lead_upsert(email=f"{c.utm_campaign}-{i}@example.jp", source="manual")
            Lead.objects.filter(pk=lead.pk).update(created_at=jst(11, 17, 9), first_touch_campaign=c)
        if cost:
            CampaignCost.objects.create(campaign=c, date=dt.date(2026, 11, 18), amount=cost)
        return c

    tops = [campaign(f"T{n}", leads=n + 1, cost=0) for n in range(5, 0, -1)]
    bottoms = [
        campaign("Z2", leads=0, cost=90_000, channel="seminar"),
        campaign("Z1", leads=0, cost=50_000),
        campaign("H", leads=1, cost=80_000),
        campaign("M", leads=1, cost=30_000),
    ]
    quiet = Campaign.objects.create(name="W46 only", channel="webinar", utm_campaign="review-quiet")
    CampaignCost.objects.create(campaign=quiet, date=dt.date(2026, 11, 12), amount=1_000_000)
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    block = re.search(r'id="h-campaigns".*?</section>', html, re.S).group(0)
    most, highest = re.findall(r"<tbody>(.*?)</tbody>", block, re.S)
    linked = r'<a href="([^"]+)">([^<]+)</a>'
    assert re.findall(linked, most) == [(c.get_absolute_url(), c.name) for c in tops]
    assert re.findall(linked, highest) == [(c.get_absolute_url(), c.name) for c in bottoms]
    assert ">Seminar</div>" in highest and "W46 only" not in block
    assert "30,000" in highest and "80,000" in highest  # cost per lead of the one-lead spenders


def test_the_weekly_review_lists_the_quotes_sent_and_accepted_this_week(
    client, manager, outsider, kpi_data, frozen_now
):
    q1, q2, q3 = kpi_data.quotes
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    block = re.search(r'id="quotes".*?</section>', html, re.S).group(0)
    sent, accepted = block.split("Accepted this week")
    assert q1.display_number in sent and q2.display_number in sent and q3.number not in sent
    assert q1.display_number in accepted and q3.display_number in accepted and q2.number not in accepted
    assert ">2</a>" in sent and ">2</a>" in accepted  # the counts link to their drill-downs
    assert "50.0%" in block
    assert f'href="{q1.get_absolute_url()}"' in block  # the manager reads the team's deal …
    assert f'href="{q2.get_absolute_url()}"' not in block  # … not the other team's: listed, unlinked

    # frozen when the week is over: a late answer changes the list's status, never the meeting's numbers
    services.snapshot_freeze_week(week=W47, team=None)
    quotes.quote_accept(quote=q2, by=outsider)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    block = re.search(r'id="quotes".*?</section>', html, re.S).group(0)
    assert "50.0%" in block and ">2</a>" in block.split("Accepted this week")[1]
    assert block.split("Accepted this week")[0].count("Accepted") == 2  # Q1 and now Q2, as they are now


# Layout 2 (session; the user with team and unread count); the teams, the week's snapshots, lists and action items in one statement (kpis.selectors.batch: won
# deals + by source, lost deals + tally, breaches, rejected + reasons, voices, quotes sent + accepted, campaign
# reactions, action items + owners) 1; the KPI engine, in one call for the week, the month and quarter to date and
# last week (each from the cache when it holds them, like the dashboard's): the generations of the days the cache
# keys values by 1 and one statement with every aggregate left (and the hand-entered values) 1; targets 1.
REVIEW_QUERIES = 6
# Frozen: the week's and the to-date numbers and the targets from its snapshot (-1); last week, not frozen, comes
# whole from the cache: its generations are read, and no aggregate is left to run (-1).
REVIEW_FROZEN_QUERIES = REVIEW_QUERIES - 2


def test_the_weekly_review_runs_the_same_queries_for_few_and_many_rows(
    client, manager, owner, outsider, kpi_data, frozen_now, django_assert_num_queries
):
    client.force_login(manager)
    with django_assert_num_queries(REVIEW_QUERIES):
        client.get("/kpis/weekly/?week=2026-W47")
    _more_rows(15, owner=owner, outsider=outsider, campaign=kpi_data.campaign)
    # the new rows (W47) changed the month and quarter to date: computed again; last week comes from the cache
    with django_assert_num_queries(REVIEW_QUERIES):
        client.get("/kpis/weekly/?week=2026-W47")
    # now the month and quarter to date (over by now) come from the cache too
    with django_assert_num_queries(REVIEW_QUERIES):
        html = client.get("/kpis/weekly/?week=2026-W47").content.decode()
    assert html.count('class="voice"') == 15
    services.snapshot_freeze_week(week=W47, team=None)
    with django_assert_num_queries(REVIEW_FROZEN_QUERIES):
        client.get("/kpis/weekly/?week=2026-W47")


def test_a_review_link_to_no_such_team_shows_everyone(client, manager, kpi_data, frozen_now):
    """The team is read in the review's one statement with the lists: a stale or forged team id reads again for
    everyone, and one too big for the database is no team at all (never a 500)."""
    client.force_login(manager)
    everyone = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    team = client.get(f"/kpis/weekly/?week=2026-W47&team={kpi_data.t1.pk}", HTTP_ACCEPT_LANGUAGE="en")
    assert f"· {kpi_data.t1.name}</small>" in team.content.decode()
    for value in ("999999", str(2**70), "-3", "abc"):
        response = client.get(f"/kpis/weekly/?week=2026-W47&team={value}", HTTP_ACCEPT_LANGUAGE="en")
        html = response.content.decode()
        assert response.status_code == 200 and 'id="lost-tally"' in html
        lost = re.search(r'id="h-lost".*?</section>', html, re.S).group(0)
        assert lost == re.search(r'id="h-lost".*?</section>', everyone, re.S).group(0)


# --- action items ------------------------------------------------------------------------------------------


def test_an_action_item_added_with_htmx_comes_back_as_the_list(client, manager, owner, db, frozen_now):
    client.force_login(manager)
    response = client.post(
        reverse("kpis:action_item_create"),
        {"week": "2026-W47", "title": "失注理由をマーケと共有", "owner": owner.pk, "due_date": "2026-11-30"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section class="card review-block" id="actions"')
    assert "失注理由をマーケと共有" in html
    item = ActionItem.objects.get()
    assert (item.owner, item.week_start, item.created_by) == (owner, dt.date(2026, 11, 16), manager)


def test_an_action_item_without_a_title_shows_the_error_in_place(client, manager, owner, db, frozen_now):
    client.force_login(manager)
    response = client.post(
        reverse("kpis:action_item_create"),
        {"week": "2026-W47", "title": " ", "owner": owner.pk, "due_date": "2026-11-30"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not ActionItem.objects.exists()


def test_without_javascript_adding_redirects_back_to_the_review(client, manager, owner, db, frozen_now):
    client.force_login(manager)
    response = client.post(
        reverse("kpis:action_item_create"),
        {"week": "2026-W47", "title": "資料を更新", "owner": owner.pk, "due_date": "2026-11-30"},
    )
    assert response.status_code == 302 and response["Location"] == "/kpis/weekly/?week=2026-W47#actions"


def test_open_items_are_carried_over_until_done(client, manager, owner, db, frozen_now):
    item = services.action_item_create(
        title="ウェビナー参加者へフォロー",
        owner=owner,
        due_date=dt.date(2026, 11, 20),
        week=Period.parse("2026-W46"),
        by=manager,
    )
    client.force_login(manager)
    assert "ウェビナー参加者へフォロー" in client.get("/kpis/weekly/?week=2026-W47").content.decode()
    assert "ウェビナー参加者へフォロー" not in client.get("/kpis/weekly/?week=2026-W45").content.decode()

    response = client.post(
        reverse("kpis:action_item_done", args=[item.pk]),
        {"done": "1", "week": "2026-W47"},
        HTTP_HX_REQUEST="true",
    )
    assert 'aria-pressed="true"' in response.content.decode()
    item.refresh_from_db()
    assert item.done_at is not None
    assert (
        "ウェビナー参加者へフォロー" in client.get("/kpis/weekly/?week=2026-W48").content.decode()
    )  # done this week
    assert "ウェビナー参加者へフォロー" not in client.get("/kpis/weekly/?week=2026-W49").content.decode()
    services.action_item_set_done(item=item, done=False, by=manager)  # reopened: carried again
    assert "ウェビナー参加者へフォロー" in client.get("/kpis/weekly/?week=2026-W49").content.decode()


def _item(owner, by, title="見積テンプレートを更新"):
    return services.action_item_create(
        title=title, owner=owner, due_date=dt.date(2026, 11, 30), week=W47, by=by
    )


def test_others_see_an_action_item_without_controls_and_a_forged_toggle_is_403(
    client, manager, owner, teammate, frozen_now
):
    item = _item(owner, manager)
    done_url = reverse("kpis:action_item_done", args=[item.pk])

    late = services.action_item_create(
        title="先週の宿題", owner=owner, due_date=dt.date(2026, 11, 20), week=W47, by=manager
    )
    client.force_login(teammate)
    html = client.get("/kpis/weekly/?week=2026-W47").content.decode()
    assert "見積テンプレートを更新" in html  # the review is shared
    assert f'class="action-item is-overdue" id="action-{late.pk}"' in html  # due 11/20, now 11/25
    assert done_url not in html and 'class="check is-readonly"' in html
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        assert client.post(done_url, {"done": "1", "week": "2026-W47"}, **headers).status_code == 403
    item.refresh_from_db()
    assert item.done_at is None

    client.force_login(owner)  # the owner gets the control and may use it
    assert done_url in client.get("/kpis/weekly/?week=2026-W47").content.decode()
    assert client.post(done_url, {"done": "1", "week": "2026-W47"}).status_code == 302
    item.refresh_from_db()
    assert item.done_at is not None


def test_admins_change_anyones_action_item(client, manager, owner, frozen_now):
    item = _item(owner, manager)
    client.force_login(UserFactory(username="boss", role=User.Role.ADMIN))
    response = client.post(
        reverse("kpis:action_item_done", args=[item.pk]), {"done": "1", "week": "2026-W47"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.done_at is not None


def test_a_rep_adds_action_items_for_themselves_only(client, owner, teammate, frozen_now):
    client.force_login(owner)
    page = client.get("/kpis/weekly/?week=2026-W47").content.decode()
    select = re.search(r'<select name="owner".*?</select>', page, re.S).group(0)
    assert f'value="{owner.pk}"' in select and f'value="{teammate.pk}"' not in select

    mine = {"week": "2026-W47", "title": "自分の宿題", "owner": owner.pk, "due_date": "2026-11-30"}
    assert client.post(reverse("kpis:action_item_create"), mine).status_code == 302
    forged = {**mine, "title": "同僚への押し付け", "owner": teammate.pk}
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        assert client.post(reverse("kpis:action_item_create"), forged, **headers).status_code == 403
    assert list(ActionItem.objects.values_list("title", "owner")) == [("自分の宿題", owner.pk)]


def test_the_services_refuse_whoever_may_not_change_the_item(manager, owner, teammate, frozen_now):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        _item(teammate, owner)  # a rep for someone else
    item = _item(owner, owner)
    with pytest.raises(PermissionDenied):
        services.action_item_set_done(item=item, done=True, by=teammate)
    assert services.action_item_set_done(item=item, done=True, by=manager).done_at is not None
    assert services.action_item_set_done(item=item, done=False, by=owner).done_at is None


# --- targets and hand-entered values -----------------------------------------------------------------------


def test_a_manager_sets_targets_and_percentages_are_typed_as_percent(client, manager, db, frozen_now):
    client.force_login(manager)
    page = client.get("/kpis/targets/")
    assert page.status_code == 200
    response = client.post("/kpis/targets/", {"win_rate__month": "35", "leads_acquired__week": "40"})
    assert response.status_code == 302
    assert Target.objects.get(kpi="win_rate", period_kind="month").value == Decimal("0.35")
    week = Target.objects.get(kpi="leads_acquired", period_kind="week", team=None)
    assert week.value == 40 and week.effective_from == dt.date(2026, 11, 23)  # this week on
    assert 'value="35"' in client.get("/kpis/targets/").content.decode()


def test_a_rep_sees_targets_but_cannot_set_them(client, owner, db):
    client.force_login(owner)
    assert client.get("/kpis/targets/").status_code == 200
    assert client.post("/kpis/targets/", {"win_rate__month": "35"}).status_code == 403
    assert not Target.objects.exists()


def test_marketing_enters_brand_awareness_in_percent(client, marketer, db):
    client.force_login(marketer)
    response = client.post(
        "/kpis/values/",
        {
            "kpi": "brand_awareness",
            "period_kind": "month",
            "period_start": "2026-11-15",
            "value": "23.5",
            "note": "調査",
        },
    )
    assert response.status_code == 302
    entry = ManualKpiValue.objects.get()
    assert (entry.value, entry.period_start, entry.entered_by) == (
        Decimal("0.235"),
        dt.date(2026, 11, 1),
        marketer,
    )


def test_a_rep_cannot_enter_values(client, owner, db):
    client.force_login(owner)
    response = client.post(
        "/kpis/values/",
        {"kpi": "brand_awareness", "period_kind": "month", "period_start": "2026-11-01", "value": "20"},
    )
    assert response.status_code == 403


def test_everyone_logged_in_can_read_the_pages(client, db):
    rep = UserFactory(username="rep9", role=User.Role.SALES)
    client.force_login(rep)
    for url in ("/", "/kpis/weekly/", "/kpis/targets/", "/kpis/values/", "/kpis/revenue/"):
        assert client.get(url).status_code == 200, url
