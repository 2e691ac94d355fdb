"""The quotes pages: the deal page's items and quotes, a quote's page and actions, the PDF, products.
Reps act on their own deals, managers on their teams', marketing reads; everyone else gets a 404."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from quotes import services
from quotes.models import DealLineItem, Quote
from quotes.tax import TaxCategory
from tests.quotes.factories import add_line, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def quote(deal, owner, issuer):
    add_line(deal, owner, description="勤怠クラウド", unit_price=120_000)
    return services.quote_create(deal=deal, by=owner)


def test_the_deal_page_shows_items_and_quotes(owner_client, deal, quote):
    response = owner_client.get(deal.get_absolute_url())

    body = response.content.decode()
    assert 'id="deal-quotes"' in body
    assert "勤怠クラウド" in body
    assert quote.number in body
    assert reverse("quotes:item_add", args=[deal.pk]) in body


def test_adding_a_line_from_the_deal_page_with_htmx_answers_the_section(owner_client, deal, issuer):
    product = make_product(name_ja="サポート", unit_price=30_000)

    response = owner_client.post(
        reverse("quotes:item_add", args=[deal.pk]),
        {"product": product.pk, "quantity": "2", "discount_kind": "none", "discount_value": "0"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section class="card" id="deal-quotes">')
    deal.refresh_from_db()
    assert deal.amount == Decimal(60_000)


def test_a_product_line_posted_with_the_forms_defaults_keeps_the_products_unit_and_tax(
    owner_client, deal, issuer
):
    """The add form's unit and tax selects start blank ("the product's"): a browser posts them as they are, and a
    reduced-rate product billed per user stays 8 % and ユーザー instead of becoming 式 at 10 %."""
    product = make_product(name_ja="お弁当", unit_price=1_000, unit="user", tax_category=TaxCategory.REDUCED)
    page = owner_client.get(deal.get_absolute_url()).content.decode()
    assert re.search(r'<select name="unit"[^>]*>\s*<option value="" selected>', page)
    assert re.search(r'<select name="tax_category"[^>]*>\s*<option value="" selected>', page)

    owner_client.post(
        reverse("quotes:item_add", args=[deal.pk]),
        {"product": product.pk, "description": "", "quantity": "3", "unit": "", "unit_price": "",
         "tax_category": "", "discount_kind": "none", "discount_value": "0"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    item = DealLineItem.objects.get(deal=deal)
    assert (item.unit, item.tax_category, item.unit_price) == ("user", TaxCategory.REDUCED, 1_000)


def test_an_invalid_line_answers_422_with_the_error_next_to_the_field(owner_client, deal):
    response = owner_client.post(
        reverse("quotes:item_add", args=[deal.pk]),
        {"description": "", "quantity": "0", "discount_kind": "none"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert 'class="error"' in response.content.decode()
    assert not DealLineItem.objects.exists()


def test_the_quote_flow_through_the_pages(owner_client, deal, owner, issuer):
    add_line(deal, owner, unit_price=100_000)
    response = owner_client.post(reverse("quotes:quote_new", args=[deal.pk]))
    quote = Quote.objects.get()
    assert response.url == quote.get_absolute_url()

    response = owner_client.post(
        reverse("quotes:quote_edit", args=[quote.pk]),
        {
            "addressee_name": "山田製作所",
            "addressee_kind": "onchu",
            "subject": "勤怠管理クラウド",
            "valid_until": quote.valid_until.isoformat(),
            "delivery_terms": "ご発注後2週間",
            "payment_terms": "月末締め翌月末払い",
            "notes": "",
            "language": "ja",
        },
    )
    assert response.status_code == 302
    for action in ("issue", "send", "accept"):
        owner_client.post(reverse("quotes:quote_action", args=[quote.pk, action]))

    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED
    assert quote.delivery_terms == "ご発注後2週間"
    page = owner_client.get(quote.get_absolute_url()).content.decode()
    assert "110,000" in page  # total incl. tax
    won = deal.stage.pipeline.stages.get(is_won=True)
    assert (
        f"{reverse('pipeline:deal_close', args=[deal.pk])}?stage={won.pk}" in page
    )  # offers to close as won


def test_the_pdf_downloads(owner_client, quote):
    response = owner_client.get(reverse("quotes:quote_pdf", args=[quote.pk]) + "?download=1")

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")


def _urls(deal, quote, item):
    return [
        ("get", quote.get_absolute_url(), {}),
        ("get", reverse("quotes:quote_pdf", args=[quote.pk]), {}),
        ("post", reverse("quotes:quote_edit", args=[quote.pk]), {"subject": "x"}),
        ("post", reverse("quotes:quote_action", args=[quote.pk, "issue"]), {}),
        ("post", reverse("quotes:item_add", args=[deal.pk]), {"description": "x", "unit_price": 1}),
        ("post", reverse("quotes:item_remove", args=[item.pk]), {}),
        ("post", reverse("quotes:quote_new", args=[deal.pk]), {}),
    ]


@pytest.mark.parametrize("who", ["teammate", "outsider"])
def test_other_peoples_quotes_answer_404(client, deal, quote, who, request):
    client.force_login(request.getfixturevalue(who))
    for method, url, data in _urls(deal, quote, deal.line_items.get()):
        assert getattr(client, method)(url, data).status_code == 404, f"{method.upper()} {url}"
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DRAFT
    assert Quote.objects.count() == 1 and DealLineItem.objects.count() == 1


def test_a_manager_acts_on_the_teams_quotes(client, manager, quote):
    client.force_login(manager)

    assert client.get(quote.get_absolute_url()).status_code == 200
    client.post(reverse("quotes:quote_action", args=[quote.pk, "issue"]))
    quote.refresh_from_db()
    assert quote.status == Quote.Status.APPROVED


def test_marketing_reads_quotes_and_changes_nothing(client, marketer, deal, quote):
    client.force_login(marketer)

    assert client.get(quote.get_absolute_url()).status_code == 200
    assert client.get(reverse("quotes:quote_pdf", args=[quote.pk])).status_code == 200
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "勤怠クラウド" in page and reverse("quotes:item_add", args=[deal.pk]) not in page
    for method, url, data in _urls(deal, quote, deal.line_items.get())[2:]:
        assert getattr(client, method)(url, data).status_code == 404, f"{method.upper()} {url}"
    assert Quote.objects.get().status == Quote.Status.DRAFT


def test_products_are_listed_for_everyone_and_edited_by_managers(client, owner, manager):
    make_product(code="LIC-01", name_ja="勤怠クラウド")
    client.force_login(owner)
    assert "LIC-01" in client.get(reverse("quotes:product_list")).content.decode()
    assert client.get(reverse("quotes:product_new")).status_code == 403

    client.force_login(manager)
    response = client.post(
        reverse("quotes:product_new"),
        {"code": "SUP-01", "name_ja": "保守", "name_en": "Support", "unit_price": "5000", "unit": "month",
         "tax_category": "standard", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert "SUP-01" in client.get(reverse("quotes:product_list")).content.decode()


# Layout 2 (session; the user with team and unread count); the quote with its deal, company, issuer, people (1) and its
# lines (1); the revisions (1); whether the viewer acts on the deal or only reads it (1); the team's approval
# threshold (1).
QUOTE_PAGE_QUERIES = 7


def test_the_quote_page_runs_the_same_queries_for_few_and_many_lines(owner_client, owner, deal, issuer,
                                                                      django_assert_num_queries):  # fmt: skip
    add_line(deal, owner)
    few = services.quote_create(deal=deal, by=owner)
    for _ in range(6):
        add_line(deal, owner)
    many = services.quote_create(deal=deal, by=owner)
    owner_client.get(few.get_absolute_url())

    for quote in (few, many):
        with django_assert_num_queries(QUOTE_PAGE_QUERIES):
            owner_client.get(quote.get_absolute_url())


PRODUCT_LIST_QUERIES = 3  # layout 2 (session; the user with team and unread count), the products 1


def test_the_product_list_runs_the_same_queries_for_few_and_many(owner_client, django_assert_num_queries):
    make_product()
    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        owner_client.get(reverse("quotes:product_list"))
    for _ in range(5):
        make_product()
    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        owner_client.get(reverse("quotes:product_list"))
