"""A rep's day on the board in a real Chromium: drag a card, move one from the keyboard, close one as lost."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline import services
from pipeline.models import Deal, StageChange
from tests.pipeline.factories import make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A laptop-sized window wide enough for all six columns (narrower ones scroll the board sideways)."""
    return {**browser_context_args, "viewport": {"width": 1600, "height": 900}}


def _drag(page, card, target_list):
    """Drag with real mouse moves (SortableJS listens to the browser's own drag and drop)."""
    card.drag_to(target_list, target_position={"x": 60, "y": 20})


def test_a_dragged_card_stays_in_its_new_column_after_a_reload(login, live_server, owner, stages):
    deal = make_deal(owner=owner, name="ドラッグする商談")
    make_deal(owner=owner, name="そのままの商談")
    proposal = stages["Proposal"].pk
    page = login(owner)
    page.goto(f"{live_server.url}/pipeline/")

    _drag(page, page.locator(f"#deal-{deal.pk}"), page.locator(f"#col-{proposal} .board-cards"))

    # the server answered with the two columns: the new column counts the card
    expect(page.locator(f"#col-{proposal} .board-col-count")).to_have_text("1")
    expect(page.locator(f"#col-{stages['Initial contact'].pk} .board-col-count")).to_have_text("1")
    page.reload()
    expect(page.locator(f"#col-{proposal} #deal-{deal.pk}")).to_be_visible()
    assert StageChange.objects.filter(deal=deal, to_stage_id=proposal).count() == 1


def test_a_card_moves_from_the_keyboard_with_its_select(login, live_server, owner, stages):
    deal = make_deal(owner=owner, name="キーボードで動かす商談")
    quote = stages["Quote & negotiation"].pk
    page = login(owner)
    page.goto(f"{live_server.url}/pipeline/")

    card = page.locator(f"#deal-{deal.pk}")
    card.locator("summary").focus()
    page.keyboard.press("Enter")
    card.locator("select[name=stage]").select_option(str(quote))
    card.locator("button[type=submit]").press("Enter")

    expect(page.locator(f"#col-{quote} #deal-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-{quote} .board-col-count")).to_have_text("1")
    deal.refresh_from_db()
    assert deal.stage_id == quote


def test_closing_a_deal_as_lost_through_the_dialog(login, live_server, owner, stages):
    deal = make_deal(owner=owner, name="失注する商談", amount=3_000_000)
    lost = stages["Lost"].pk
    page = login(owner)
    page.goto(f"{live_server.url}/pipeline/")

    _drag(page, page.locator(f"#deal-{deal.pk}"), page.locator(f"#col-{lost} .board-cards"))

    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("button[type=submit]").click()  # without a cause and a side
    expect(dialog.locator(".has-error")).to_have_count(2)
    dialog.locator("select[name=cause]").select_option("slow_follow_up")
    expect(dialog.locator("select[name=side]")).to_have_value("sales")  # suggested from the cause
    dialog.locator("textarea[name=note]").fill("初回連絡が1週間後になった")
    dialog.locator("button[type=submit]").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(f"#col-{lost} #deal-{deal.pk}")).to_be_visible()
    deal.refresh_from_db()
    assert (deal.status, deal.loss_cause, deal.loss_side, deal.loss_note) == (
        Deal.Status.LOST,
        "slow_follow_up",
        "sales",
        "初回連絡が1週間後になった",
    )


def test_cancelling_the_dialog_puts_the_card_back(login, live_server, owner, stages):
    deal = make_deal(owner=owner, name="受注しかけた商談")
    first = stages["Initial contact"].pk
    page = login(owner)
    page.goto(f"{live_server.url}/pipeline/")

    _drag(page, page.locator(f"#deal-{deal.pk}"), page.locator(f"#col-{stages['Won'].pk} .board-cards"))
    dialog = page.locator("#close-dialog")
    expect(dialog.locator("input[name=amount]")).to_be_visible()
    dialog.locator("[data-dialog-cancel]").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(f"#col-{first} #deal-{deal.pk}")).to_be_visible()
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_a_card_someone_else_moved_meanwhile_snaps_to_where_it_is_now(
    login, live_server, owner, manager, stages
):
    deal = make_deal(owner=owner, name="同時に動かされた商談")
    proposal, discovery = stages["Proposal"].pk, stages["Discovery"].pk
    page = login(owner)
    page.goto(f"{live_server.url}/pipeline/")
    # the manager moves it while the rep's board still shows it in the first column
    services.deal_change_stage(deal=deal, stage=stages["Proposal"], by=manager, version=deal.version)

    _drag(page, page.locator(f"#deal-{deal.pk}"), page.locator(f"#col-{discovery} .board-cards"))

    expect(page.locator("#messages .message-error")).to_contain_text(deal.name)
    expect(page.locator(f"#col-{proposal} #deal-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-{discovery} #deal-{deal.pk}")).to_have_count(0)
    deal.refresh_from_db()
    assert deal.stage_id == proposal
    # the redrawn card carries the new version: dragging it again goes through
    _drag(page, page.locator(f"#deal-{deal.pk}"), page.locator(f"#col-{discovery} .board-cards"))
    expect(page.locator(f"#col-{discovery} #deal-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-{discovery} .board-col-count")).to_have_text("1")
    deal.refresh_from_db()
    assert deal.stage_id == discovery


def test_a_marketer_follows_marketing_sourced_deals_on_a_read_only_board(
    login, live_server, marketer, owner, stages
):
    from pipeline.services import deal_create_from_handoff
    from tests.leads.factories import make_handoff, make_lead

    sourced = deal_create_from_handoff(handoff=make_handoff(lead=make_lead(), owner=owner), by=owner)
    hand_made = make_deal(owner=owner, name="営業が作った商談")
    page = login(marketer)
    page.goto(f"{live_server.url}/pipeline/")

    card = page.locator(f"#deal-{sourced.pk}")
    expect(card).to_be_visible()
    expect(page.locator(f"#deal-{hand_made.pk}")).to_have_count(0)
    expect(page.locator("#scope-note")).to_be_visible()
    expect(card.locator("summary")).to_have_count(0)  # no "Move…"
    expect(page.get_by_role("link", name="新規商談")).to_have_count(0)
    expect(page.get_by_role("link", name="New deal")).to_have_count(0)

    # Dragging does nothing: there is no drag on a read-only board.
    _drag(page, card, page.locator(f"#col-{stages['Proposal'].pk} .board-cards"))
    page.reload()
    expect(page.locator(f"#col-{stages['Initial contact'].pk} #deal-{sourced.pk}")).to_be_visible()
    sourced.refresh_from_db()
    assert sourced.stage_id == stages["Initial contact"].pk

    # Every deal on request, and a deal's page without controls.
    page.locator("label.segmented-option", has=page.locator("input[name=scope][value=all]")).click()
    expect(page.locator(f"#deal-{hand_made.pk}")).to_be_visible()
    card.locator("a.deal-card-name").click()
    expect(page.locator("h1")).to_have_text(sourced.name)
    expect(page.locator("form.stage-move")).to_have_count(0)
    expect(page.locator("form.activity-form")).to_have_count(0)
