"""The deal page's line items after #23's follow-up: a line edited in place (HTMX, and without JavaScript), the
page's figures and edit form reloaded after any line change, an itemised deal's amount read-only, and the board
card counting a deal's lines at no query per card."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.handoffs import HandoffConflict, handoff_accept, handoff_assign_to, handoff_decision_undo
from leads.models import Handoff, Lead
from leads.services import lead_upsert
from pipeline.models import Deal
from quotes import services
from quotes.models import DealLineItem, Quote
from salesmarketing.htmx import DEAL_CHANGED_EVENT
from salesmarketing.services import api_key_create
from tests.pipeline.factories import make_deal
from tests.quotes.factories import add_line

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _edit(item, **changes) -> dict:
    values = {
        "description": item.description,
        "quantity": str(item.quantity),
        "unit": item.unit,
        "unit_price": str(item.unit_price),
        "tax_category": item.tax_category,
        "discount_kind": item.discount_kind,
        "discount_value": str(item.discount_value),
        **changes,
    }
    return {f"edit-{key}": value for key, value in values.items()}


# --- a line edited in place ----------------------------------------------------------------------------------


def test_edit_turns_the_row_into_a_form_and_saving_updates_the_amount_and_tells_the_page(
    owner_client, deal, owner
):
    item = add_line(deal, owner, description="導入支援", unit_price=100_000)
    url = reverse("quotes:item_edit", args=[item.pk])

    form = owner_client.get(url, **HTMX).content.decode()
    assert f'id="item-{item.pk}" class="line-editing"' in form
    assert 'name="edit-quantity"' in form and 'value="導入支援"' in form

    response = owner_client.post(
        url, _edit(item, quantity="3", discount_kind="percent", discount_value="10"), **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == DEAL_CHANGED_EVENT
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="deal-quotes">')
    assert "line-editing" not in html and "270,000" in html
    item.refresh_from_db()
    deal.refresh_from_db()
    assert (item.quantity, item.discount_value, deal.amount) == (3, 10, Decimal(270_000))


def test_an_invalid_edit_keeps_the_row_a_form_with_the_error_next_to_the_field(owner_client, deal, owner):
    item = add_line(deal, owner, unit_price=100_000)

    response = owner_client.post(
        reverse("quotes:item_edit", args=[item.pk]), _edit(item, quantity="0"), **HTMX
    )

    assert response.status_code == 422
    assert not response.has_header("HX-Trigger")
    html = response.content.decode()
    assert "line-editing" in html and 'class="error"' in html
    item.refresh_from_db()
    assert item.quantity == 1


def test_without_javascript_edit_opens_the_deal_page_with_that_row_as_a_form(owner_client, deal, owner):
    item = add_line(deal, owner, description="保守サポート")
    url = reverse("quotes:item_edit", args=[item.pk])

    response = owner_client.get(url)
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert 'class="line-editing"' in page and f'action="{url}"' in page

    response = owner_client.post(url, _edit(item, unit_price="150000"))
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    deal.refresh_from_db()
    assert deal.amount == Decimal(150_000)


def test_adding_and_removing_a_line_tell_the_page_the_deal_changed(owner_client, deal, owner):
    response = owner_client.post(
        reverse("quotes:item_add", args=[deal.pk]),
        {
            "description": "初期設定",
            "quantity": "1",
            "unit_price": "50000",
            "discount_kind": "none",
            "discount_value": "0",
        },
        **HTMX,
    )
    assert response["HX-Trigger"] == DEAL_CHANGED_EVENT
    item = DealLineItem.objects.get(deal=deal)
    response = owner_client.post(reverse("quotes:item_remove", args=[item.pk]), **HTMX)
    assert response["HX-Trigger"] == DEAL_CHANGED_EVENT


def test_cancel_answers_the_section_as_it_is(owner_client, deal, owner):
    add_line(deal, owner)
    html = owner_client.get(reverse("quotes:items_section", args=[deal.pk]), **HTMX).content.decode()
    assert 'id="deal-quotes"' in html and "line-editing" not in html


@pytest.mark.parametrize("who", ["outsider", "marketer"])
def test_other_people_and_marketing_cannot_edit_a_line(client, deal, owner, who, request):
    item = add_line(deal, owner)
    client.force_login(request.getfixturevalue(who))
    url = reverse("quotes:item_edit", args=[item.pk])

    assert client.get(url, **HTMX).status_code == 404
    assert client.post(url, _edit(item, unit_price="1"), **HTMX).status_code == 404
    item.refresh_from_db()
    assert item.unit_price == 100_000


# Session, user with the unread count (2); the item (1) and its deal (1); the section: items, issuer, quotes and
# products in one statement (1).
ITEM_EDIT_QUERIES = 5


def test_the_row_form_runs_the_same_queries_for_few_and_many_lines(
    owner_client, deal, owner, django_assert_num_queries
):
    first = add_line(deal, owner)
    url = reverse("quotes:item_edit", args=[first.pk])
    with django_assert_num_queries(ITEM_EDIT_QUERIES):
        owner_client.get(url, **HTMX)
    for _ in range(5):
        add_line(deal, owner)
    with django_assert_num_queries(ITEM_EDIT_QUERIES):
        owner_client.get(url, **HTMX)


# --- the deal's figures and edit form ------------------------------------------------------------------------


def test_the_overview_reloads_with_the_new_amount_the_new_version_and_the_amount_read_only(
    owner_client, deal, owner
):
    add_line(deal, owner, unit_price=300_000)
    deal.refresh_from_db()

    response = owner_client.get(
        reverse("pipeline:deal_overview", args=[deal.pk]), HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="overview"')
    assert 'hx-trigger="deal-changed from:body"' in html
    assert "300,000" in html
    assert 'id="detail-move-version" hx-swap-oob="true"' in html and f'value="{deal.version}"' in html
    assert 'name="amount"' in html and "readonly" in html
    assert "line items" in html  # the help text says why
    assert owner_client.get(reverse("pipeline:deal_overview", args=[deal.pk])).status_code == 302


def test_the_overview_is_not_anyone_elses_to_read(client, deal, outsider):
    client.force_login(outsider)
    assert client.get(reverse("pipeline:deal_overview", args=[deal.pk]), **HTMX).status_code == 404


def _deal_form(deal, **changes) -> dict:
    return {
        "name": deal.name,
        "amount": str(deal.amount),
        "probability": str(deal.probability),
        "expected_close_date": deal.expected_close_date.isoformat(),
        "next_step": "",
        "next_step_date": "",
        "source": deal.source,
        "version": deal.version,
        **changes,
    }


def test_a_typed_amount_on_an_itemised_deal_is_refused_next_to_the_field(owner_client, deal, owner):
    add_line(deal, owner, unit_price=300_000)
    deal.refresh_from_db()
    url = reverse("pipeline:deal_edit", args=[deal.pk])

    response = owner_client.post(url, _deal_form(deal, amount="999999"), **HTMX)
    html = response.content.decode()
    error = html[html.index('name="amount"') :]
    assert 'class="error"' in error[: error.index("</div>")]
    deal.refresh_from_db()
    assert deal.amount == Decimal(300_000)

    # the same amount with another change is a normal save
    owner_client.post(url, _deal_form(deal, name="名前だけ変更"), **HTMX)
    deal.refresh_from_db()
    assert (deal.name, deal.amount) == ("名前だけ変更", Decimal(300_000))


def test_a_deal_without_items_keeps_its_typed_amount(owner_client, deal):
    owner_client.post(
        reverse("pipeline:deal_edit", args=[deal.pk]), _deal_form(deal, amount="500000"), **HTMX
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal(500_000)


def test_the_api_refuses_a_typed_amount_on_an_itemised_deal(client, deal, owner):
    add_line(deal, owner, unit_price=300_000)
    _key, plain = api_key_create(name="CRM", source="crm", scopes=["deals:write"], user=owner)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"amount": 1}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
    )

    assert response.status_code == 422 and "amount" in response.content.decode()
    deal.refresh_from_db()
    assert deal.amount == Decimal(300_000)


def test_an_accepted_quote_still_sets_an_itemised_deals_amount(deal, owner, issuer):
    add_line(deal, owner, unit_price=300_000)
    quote = services.quote_create(deal=deal, by=owner)
    DealLineItem.objects.filter(deal=deal).update(unit_price=100_000)  # the items changed after the quote
    quote = services.quote_mark_sent(quote=services.quote_issue(quote=quote, by=owner), by=owner)
    services.quote_accept(quote=quote, by=owner)
    deal.refresh_from_db()
    assert deal.amount == Decimal(300_000)


# --- undoing a handoff's acceptance ------------------------------------------------------------------------------


def test_an_accept_is_not_undone_once_the_deal_has_a_numbered_quote(
    owner, manager, sales_team, issuer, stages
):
    lead, _ = lead_upsert(email="quote-undo@example.jp", source="api", name="見積 太郎")
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage="mql")
    waiting = Handoff.objects.create(lead=lead, team=sales_team, mql_at=timezone.now(), score_at_handoff=70)
    accepted = handoff_accept(handoff=handoff_assign_to(handoff=waiting, rep=owner, by=manager), by=owner)
    deal = accepted.deal
    DealLineItem.objects.create(deal=deal, description="無償トライアル", unit_price=0)  # the amount stays 0
    quote = services.quote_create(deal=deal, by=owner, addressee_name="見積 太郎")

    with pytest.raises(HandoffConflict, match=str(Quote._meta.verbose_name)):
        handoff_decision_undo(handoff=accepted, by=owner, now=accepted.decided_at + dt.timedelta(seconds=2))

    assert Deal.objects.filter(pk=deal.pk).exists() and Quote.objects.filter(pk=quote.pk).exists()
    accepted.refresh_from_db()
    assert accepted.state == Handoff.State.ACCEPTED


# --- the board card ------------------------------------------------------------------------------------------------


def test_a_board_card_says_how_many_lines_its_deal_has_at_no_extra_query(
    owner_client, owner, stages, django_assert_num_queries
):
    from tests.pipeline.test_views_board import BOARD_QUERIES

    plain = make_deal(owner=owner, name="明細なし")
    itemised = make_deal(owner=owner, name="明細あり")
    owner_client.get(reverse("pipeline:board"))
    # a rep: no owner filter; the usual time in each stage is cached by the first read
    with django_assert_num_queries(BOARD_QUERIES - 2):
        html = owner_client.get(reverse("pipeline:board")).content.decode()
    assert "line item" not in html
    for _ in range(3):
        add_line(itemised, owner)
    add_line(plain, owner)
    with django_assert_num_queries(BOARD_QUERIES - 2):
        html = owner_client.get(reverse("pipeline:board"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    card = html[html.index(f'id="deal-{itemised.pk}"') :]
    assert "3 line items" in card[: card.index("</li>")]
    card = html[html.index(f'id="deal-{plain.pk}"') :]
    assert "1 line item" in card[: card.index("</li>")]


def test_the_deal_page_previews_and_downloads_each_quotes_pdf(owner_client, deal, owner, issuer):
    add_line(deal, owner)
    quote = services.quote_create(deal=deal, by=owner)
    html = owner_client.get(deal.get_absolute_url()).content.decode()
    pdf = reverse("quotes:quote_pdf", args=[quote.pk])
    assert f'href="{pdf}" target="_blank"' in html and f'href="{pdf}?download=1"' in html
