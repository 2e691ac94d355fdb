"""The board: columns with totals, a fixed number of queries, moves that answer with only what changed."""

from __future__ import annotations

import datetime as dt
import html as htmlmod
import re
from contextlib import nullcontext
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, StageChange
from pipeline.selectors import CARDS_PER_COLUMN, BoardFilters, pipeline_board
from tests.leads.factories import make_company
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db

BOARD = "/pipeline/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _spread_deals(owners, stages, n: int) -> None:
    """n deals across the open stages, some won and lost, some with history — made through the services."""
    open_stages = [stages[k] for k in ("Initial contact", "Discovery", "Proposal", "Quote & negotiation")]
    for i in range(n):
        owner = owners[i % len(owners)]
        deal = make_deal(
            owner=owner, amount=100_000 * (i + 1), next_step="電話", next_step_date=timezone.localdate()
        )
        target = open_stages[i % len(open_stages)]
        if target != deal.stage:
            deal = services.deal_move_to_stage(deal=deal, stage=target, position=None, moved_by=owner)
        if i % 7 == 3:
            services.deal_close_won(deal=deal, amount=deal.amount, by=owner, notify=False)
        elif i % 7 == 5:
            services.deal_close_lost(deal=deal, cause="price", side="external", by=owner)


def _board_queries(client, django_assert_num_queries, expected: int) -> str:
    cache.clear()  # count the usual-time aggregate too (it is cached for a few minutes)
    with django_assert_num_queries(expected):
        response = client.get(BOARD)
    assert response.status_code == 200
    return response.content.decode()


# Layout: session, and the user with their team and unread count (2).
# Board: the owner list for the filter, the pipelines with their stages (one query: JSON arrays), column totals
# (one GROUP BY), the first cards of every column (one query) and the usual time in each stage (one aggregate,
# cached) (5). A rep has no owner filter. Budget (issue #22): 8 with the 2-query layout.
BOARD_QUERIES = 7
MORE_QUERIES = 5


def test_a_managers_board_runs_the_same_queries_for_few_and_many_deals(
    client, manager, owner, teammate, stages, django_assert_num_queries
):
    client.force_login(manager)
    _spread_deals([owner, teammate], stages, 5)
    page = _board_queries(client, django_assert_num_queries, BOARD_QUERIES)
    assert page.count('<li class="deal-card') >= 3

    _spread_deals([owner, teammate, manager], stages, 60)
    page = _board_queries(client, django_assert_num_queries, BOARD_QUERIES)
    assert page.count('<li class="deal-card') > 40


def test_a_reps_board_runs_a_fixed_number_of_queries_too(
    owner_client, owner, stages, django_assert_num_queries
):
    _spread_deals([owner], stages, 3)
    _board_queries(owner_client, django_assert_num_queries, BOARD_QUERIES - 1)  # no owner filter for a rep
    _spread_deals([owner], stages, 30)
    _board_queries(owner_client, django_assert_num_queries, BOARD_QUERIES - 1)


def test_columns_show_count_total_and_weighted_total(owner, stages):
    make_deal(owner=owner, stage=stages["Proposal"], amount=1_000_000)  # 40 %
    make_deal(owner=owner, stage=stages["Proposal"], amount=500_000, probability=25)
    make_deal(owner=owner, stage=stages["Quote & negotiation"], amount=2_000_000)  # 70 %

    board = pipeline_board(viewer=owner, filters=BoardFilters())
    columns = {c.stage.name_en: c for c in board.columns}
    assert (columns["Proposal"].count, columns["Proposal"].total) == (2, Decimal(1_500_000))
    assert columns["Proposal"].weighted == Decimal(400_000 + 125_000)
    assert columns["Quote & negotiation"].weighted == Decimal(1_400_000)
    assert (board.open_count, board.open_total, board.open_weighted) == (
        3,
        Decimal(3_500_000),
        Decimal(1_925_000),
    )


def _more_link(html: str, column: int) -> str | None:
    """The hx-get of a column's "more" link, if it has one."""
    block = html[html.index(f'id="more-{column}"') :]
    block = block[: block.index("</div>")]
    found = re.search(r'hx-get="([^"]+)"', block)
    return htmlmod.unescape(found.group(1)) if found else None


def _card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="deal-card[^"]*" id="deal-(\d+)"', html)]


def _many_cards(owner, stage, n: int) -> list[int]:
    """n more cards in one column, as the generator's data has them (4,000 open deals): one deal made through the
    service, copied in one statement (n service calls would take minutes). Every third pair shares a position, as
    after concurrent drops, so the order falls back on the id."""
    model = make_deal(owner=owner, stage=stage)
    copies = []
    for i in range(n):
        copy = Deal.objects.get(pk=model.pk)
        copy.pk = None
        copy.name = f"大量の商談 {i}"
        copy.position = model.position + (i - i % 2 * (i % 3 == 0)) * 1024
        copies.append(copy)
    Deal.objects.bulk_create(copies)
    return list(Deal.objects.filter(stage=stage).order_by("position", "id").values_list("pk", flat=True))


def test_a_column_shows_its_first_cards_and_a_link_to_more(owner_client, owner, stages):
    for _ in range(CARDS_PER_COLUMN + 2):
        make_deal(owner=owner, stage=stages["Discovery"])
    page = owner_client.get(BOARD).content.decode()
    column = stages["Discovery"].pk
    assert _card_ids(page[page.index(f'id="col-{column}"') :]).__len__() >= CARDS_PER_COLUMN
    link = _more_link(page, column)
    assert link and f"col={column}" in link and "after=" in link

    more = owner_client.get(link, **HTMX).content.decode()
    assert len(_card_ids(more)) == 2  # the rest of the column, to append
    assert 'id="board"' not in more and f'id="col-{column}"' not in more
    assert _more_link(more, column) is None  # nothing after them: the link goes (out of band)
    assert 'hx-swap-oob="true"' in more


def test_a_column_of_many_cards_pages_through_all_of_them_at_a_fixed_cost(
    owner_client, owner, stages, django_assert_num_queries
):
    discovery = stages["Discovery"]
    expected = _many_cards(owner, discovery, 4 * CARDS_PER_COLUMN + 7)
    page = _board_queries(owner_client, django_assert_num_queries, BOARD_QUERIES - 1)
    column = page[page.index(f'id="col-{discovery.pk}"') :]
    column = column[: column.index("</section>")]
    seen = _card_ids(column)
    assert len(seen) == CARDS_PER_COLUMN
    assert f">{len(expected)}<" in column  # the column's count is every card's, from SQL

    link = _more_link(page, discovery.pk)
    while link:
        # Session, the user (with the unread count); the pipelines with their stages, the totals
        # (the column's count for "showing n of m") and the page of cards. The usual time is the board's, cached.
        with django_assert_num_queries(MORE_QUERIES):
            more = owner_client.get(link, **HTMX).content.decode()
        seen += _card_ids(more)
        link = _more_link(more, discovery.pk)
    assert seen == expected  # every card once, in card order


def test_a_more_link_without_javascript_shows_the_next_page_on_the_board(owner_client, owner, stages):
    discovery = stages["Discovery"]
    expected = _many_cards(owner, discovery, CARDS_PER_COLUMN + 5)
    link = _more_link(owner_client.get(BOARD).content.decode(), discovery.pk)
    page = owner_client.get(link).content.decode()
    column = page[page.index(f'id="col-{discovery.pk}"') :]
    assert _card_ids(column[: column.index("</section>")]) == expected[CARDS_PER_COLUMN:]


def test_an_unreadable_cursor_shows_the_first_page(owner_client, owner, stages):
    discovery = stages["Discovery"]
    expected = _many_cards(owner, discovery, 3)
    html = owner_client.get(BOARD, {"col": discovery.pk, "after": "x.y"}, **HTMX).content.decode()
    assert _card_ids(html) == expected


def test_cards_show_days_in_stage_overdue_next_steps_and_stale_deals(owner_client, owner, stages):
    deal = make_deal(
        owner=owner,
        name="古い商談",
        next_step="見積の再提示",
        next_step_date=timezone.localdate() - dt.timedelta(days=2),
    )
    Deal.objects.filter(pk=deal.pk).update(
        stage_changed_at=timezone.now() - dt.timedelta(days=20)
    )  # limit: 14 days
    page = owner_client.get(BOARD).content.decode()
    card = page[page.index(f'id="deal-{deal.pk}"') :]
    card = card[: card.index("</li>")]
    assert "is-stale" in card and "is-overdue" in card
    assert "20" in card


def test_a_stage_without_a_limit_is_stale_past_the_usual_time(owner, stages):
    discovery = stages["Discovery"]
    assert discovery.stale_after_days is None
    now = timezone.now()
    for days in (2, 3, 4, 5, 6, 8, 10, 30):  # past deals' time in Discovery: p75 = 8 days
        deal = make_deal(owner=owner, stage=discovery)
        StageChange.objects.create(
            deal=deal,
            from_stage=discovery,
            to_stage=stages["Proposal"],
            changed_at=now,
            seconds_in_from_stage=days * 86400,
        )
    slow = make_deal(owner=owner, stage=discovery)
    Deal.objects.filter(pk=slow.pk).update(stage_changed_at=now - dt.timedelta(days=9))
    usual = make_deal(owner=owner, stage=discovery)
    Deal.objects.filter(pk=usual.pk).update(stage_changed_at=now - dt.timedelta(days=7))

    column = next(
        c for c in pipeline_board(viewer=owner, filters=BoardFilters()).columns if c.stage == discovery
    )
    assert column.stale_after_days == 8
    assert {card.deal.pk for card in column.cards if card.is_stale} == {slow.pk}


def test_the_usual_time_is_computed_once_then_kept_for_a_while(
    owner_client, owner, stages, django_assert_num_queries
):
    make_deal(owner=owner)
    owner_client.get(BOARD)
    with django_assert_num_queries(BOARD_QUERIES - 2):  # neither the owner filter (a rep) nor the aggregate
        owner_client.get(BOARD)


def test_a_drop_posts_once_and_gets_back_only_the_two_columns(owner_client, deal, stages):
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Proposal"].pk, "before": "", "after": "", "scope": "mine"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="board"' not in html  # never the whole board
    sections = re.findall(r'<section class="board-col[^"]*" id="col-(\d+)"[^>]*hx-swap-oob="true"', html)
    assert sorted(map(int, sections)) == sorted([stages["Initial contact"].pk, stages["Proposal"].pk])
    assert 'id="board-summary" hx-swap-oob="true"' in html
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]


def test_a_drop_within_a_column_answers_with_that_column(owner_client, owner, stages):
    a, b = make_deal(owner=owner), make_deal(owner=owner)  # b on top
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[b.pk]), {"stage": b.stage_id, "before": "", "after": a.pk}, **HTMX
    )
    html = response.content.decode()
    assert html.count('hx-swap-oob="true"') == 2  # the column and the summary
    assert html.index(f'id="deal-{a.pk}"') < html.index(f'id="deal-{b.pk}"')


def test_the_move_form_works_without_javascript(owner_client, deal, stages):
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Discovery"].pk, "next": "/pipeline/?scope=mine&q=%E5%B1%B1%E7%94%B0"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/pipeline/?scope=mine&q=%E5%B1%B1%E7%94%B0"
    deal.refresh_from_db()
    assert deal.stage == stages["Discovery"]


def test_the_move_form_does_not_redirect_elsewhere(owner_client, deal, stages):
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Discovery"].pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/pipeline/"


def test_moving_to_won_or_lost_opens_the_closing_dialog_and_changes_nothing_yet(owner_client, deal, stages):
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]), {"stage": stages["Lost"].pk}, **HTMX
    )
    assert response["HX-Retarget"] == "#close-dialog-body"
    assert response["HX-Trigger-After-Swap"] == "pipeline-dialog-open"
    html = response.content.decode()
    assert 'name="cause"' in html and 'name="side"' in html and 'name="from_board"' in html
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_without_javascript_moving_to_won_leads_to_the_closing_page(owner_client, deal, stages):
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]), {"stage": stages["Won"].pk, "next": "/pipeline/"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(
        reverse("pipeline:deal_close", args=[deal.pk]) + f"?stage={stages['Won'].pk}"
    )
    page = owner_client.get(response["Location"]).content.decode()
    assert 'name="amount"' in page and "<dialog" not in page


def test_filters_narrow_the_board_and_htmx_gets_only_the_board(client, manager, owner, teammate, stages):
    soon = timezone.localdate() + dt.timedelta(days=10)
    later = timezone.localdate() + dt.timedelta(days=200)
    a = make_deal(
        owner=owner,
        name="勤怠クラウド導入",
        company=make_company("株式会社山田製作所"),
        expected_close_date=soon,
    )
    b = make_deal(owner=teammate, name="ワークフロー電子化", expected_close_date=later)
    client.force_login(manager)

    def names(**params):
        html = client.get(BOARD, params, **HTMX).content.decode()
        assert html.lstrip().startswith('<div id="board"')
        return {n for n in (a.name, b.name) if n in html}

    assert names() == {a.name, b.name}
    assert names(q="山田") == {a.name}
    assert names(owner=teammate.pk) == {b.name}
    assert names(close_to=(soon + dt.timedelta(days=1)).isoformat()) == {a.name}
    assert names(close_from=(soon + dt.timedelta(days=1)).isoformat()) == {b.name}
    assert names(scope="mine") == set()


def test_the_board_varies_on_htmx(owner_client):
    assert "HX-Request" in owner_client.get(BOARD)["Vary"]


def _card(page: str, deal) -> str:
    card = page[page.index(f'id="deal-{deal.pk}"') :]
    return card[: card.index("</li>")]


def test_a_card_shows_its_deal_company_owner_and_next_step_escaped(owner_client, owner, stages):
    """The card is built in Python (pipeline_board.board_card): every text in it escaped as a template would."""
    owner.display_name = '<b>"担当"</b>'
    owner.save(update_fields=["display_name"])
    day = dt.date(2026, 3, 4)
    deal = make_deal(
        owner=owner,
        stage=stages["Proposal"],
        name="<script>alert(1)</script> & 商談",
        company=make_company(name="<i>株式会社</i> & Co"),
        amount=12_345_678,
        expected_close_date=day,
        next_step='見積 "再提示" <b>',
        next_step_date=day,
    )
    plain = make_deal(owner=owner, stage=stages["Proposal"], name="会社なし")
    Deal.objects.filter(pk=plain.pk).update(company=None)
    lost = services.deal_close_lost(deal=make_deal(owner=owner), cause="price", side="external", by=owner)
    page = owner_client.get(BOARD).content.decode()
    card = _card(page, deal)
    assert "<script>" not in page and "<i>" not in page and "<b>" not in page
    assert (
        f'<a class="deal-card-name" href="/pipeline/deals/{deal.pk}/">&lt;script&gt;alert(1)&lt;/script&gt; &amp; 商談</a>'
        in card
    )
    assert '<div class="deal-card-company">&lt;i&gt;株式会社&lt;/i&gt; &amp; Co</div>' in card
    assert '<span class="deal-card-owner">&lt;b&gt;&quot;担当&quot;&lt;/b&gt;</span>' in card
    assert "12,345,678円" in card and "2026/03/04" in card
    assert '見積 &quot;再提示&quot; &lt;b&gt; <time datetime="2026-03-04">2026/03/04</time>' in card
    assert f'action="/pipeline/deals/{deal.pk}/move/"' in card and 'name="csrfmiddlewaretoken"' in card
    assert '<div class="deal-card-company">—</div>' in _card(page, plain)
    assert '<div class="deal-card-loss">価格 · 外部要因</div>' in _card(page, lost)


def test_closed_columns_show_only_recent_closings(owner_client, owner, stages):
    old = services.deal_close_won(deal=make_deal(owner=owner, name="昨年の受注"), amount=1, by=owner)
    Deal.objects.filter(pk=old.pk).update(closed_at=timezone.now() - dt.timedelta(days=90))
    recent = services.deal_close_won(deal=make_deal(owner=owner, name="今月の受注"), amount=1, by=owner)
    page = owner_client.get(BOARD).content.decode()
    assert recent.name in page and old.name not in page


def test_ids_in_the_markup_are_never_grouped_like_amounts(owner, stages):
    """USE_THOUSAND_SEPARATOR would print deal 12345 as "12,345" in ids, data attributes and values."""
    from django.template.loader import render_to_string

    from pipeline.selectors import Card

    deal = Deal(pk=12345, name="大口商談", owner=owner, stage=stages["Proposal"], amount=12_345_678)
    deal.expected_close_date = timezone.localdate()
    html = render_to_string(
        "pipeline/board.html#card",
        {
            "card": Card(deal=deal, days_in_stage=1234, is_stale=False, next_step_overdue=False),
            "board": {"stages": list(stages.values())},
        },
    )
    assert 'id="deal-12345"' in html and 'data-deal="12345"' in html and "/pipeline/deals/12345/move/" in html
    assert "12,345,678円" in html  # amounts keep their separators


def _drag(client, deal, stage, scope="mine"):
    response = client.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stage.pk, "version": deal.version, "scope": scope},
        **HTMX,
    )
    assert response.status_code == 200
    return response.content.decode()


# Session and user (2); the deal with its stage, company and its pipeline's stages (1); the move, one statement
# that locks the row and writes the event, the stage change and the deal (1: no transaction of its own, so no
# savepoint pair here and no BEGIN/COMMIT in production); the two columns: totals, cards (2). The usual time in
# stage is cached. Budget (issue #22): 6. SQLite (the zero-setup default) takes the move's steps one by one, in a
# transaction (a savepoint pair here): the lock, the event, the stage change, the top of the column, the update.
MOVE_QUERIES = 6 if connection.vendor == "postgresql" else 12


def test_a_drag_runs_a_fixed_number_of_queries_whatever_the_columns_hold(
    owner_client, owner, stages, django_assert_num_queries
):
    deal = make_deal(owner=owner, stage=stages["Initial contact"])
    _drag(owner_client, deal, stages["Proposal"])  # the usual time in stage, cached as the board would have
    deal.refresh_from_db()
    with django_assert_num_queries(MOVE_QUERIES):
        _drag(owner_client, deal, stages["Discovery"])
    _many_cards(owner, stages["Discovery"], 2 * CARDS_PER_COLUMN)
    _many_cards(owner, stages["Proposal"], 2 * CARDS_PER_COLUMN)
    deal.refresh_from_db()
    with django_assert_num_queries(MOVE_QUERIES):
        html = _drag(owner_client, deal, stages["Proposal"])
    assert html.count('hx-swap-oob="true"') >= 3  # the two columns and the summary, nothing else
    assert 'id="board"' not in html


def test_a_managers_drag_on_the_team_board_costs_the_same(
    client, manager, owner, teammate, stages, django_assert_num_queries
):
    client.force_login(manager)
    deal = make_deal(owner=owner, stage=stages["Initial contact"])
    _drag(
        client, deal, stages["Proposal"], scope="team"
    )  # the usual time in stage, cached as the board would have
    _spread_deals([owner, teammate], stages, 12)
    deal.refresh_from_db()
    with django_assert_num_queries(MOVE_QUERIES):
        html = _drag(client, deal, stages["Discovery"], scope="team")
    assert html.count('hx-swap-oob="true"') >= 3


def test_a_drop_between_two_cards_of_a_long_column_costs_the_same_and_lands_there(
    owner_client, owner, stages, django_assert_num_queries
):
    """The board posts the cards either side of the drop: the move's statement works the place out. Two cards
    sharing a position (no room between them) have their column spread out again first, at a few more queries."""
    deal = make_deal(owner=owner, stage=stages["Initial contact"])
    _drag(owner_client, deal, stages["Proposal"])  # the usual time in stage, cached as the board would have
    column = _many_cards(owner, stages["Discovery"], 2 * CARDS_PER_COLUMN)
    tied = (column[3], column[4])  # _many_cards: the same position
    # SQLite reads the place first: the neighbour and its index in the column (services.drop_index).
    expected = MOVE_QUERIES if connection.vendor == "postgresql" else MOVE_QUERIES + 2
    for above, below in ((column[5], column[6]), (None, column[0]), (column[-1], None), tied):
        deal.refresh_from_db()
        data = {"stage": stages["Discovery"].pk, "version": deal.version, "scope": "mine"}
        counted = django_assert_num_queries(expected) if (above, below) != tied else nullcontext()
        with counted:
            response = owner_client.post(
                reverse("pipeline:deal_move", args=[deal.pk]),
                {**data, "before": below or "", "after": above or ""},
                **HTMX,
            )
        assert response.status_code == 200
        at = column.index(below) if below else len(column)
        assert list(Deal.objects.filter(stage=stages["Discovery"]).values_list("pk", flat=True)) == [
            *column[:at],
            deal.pk,
            *column[at:],
        ]
        assert StageChange.objects.filter(deal=deal, to_stage=stages["Discovery"]).count() == 1
        deal = services.deal_move_to_stage(deal=deal, stage=stages["Proposal"], moved_by=owner)
        StageChange.objects.filter(deal=deal, to_stage=stages["Discovery"]).delete()
