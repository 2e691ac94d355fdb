"""Products and quotes over the API: what a key acting as a user reads, per rate totals, 404 for others'."""

from __future__ import annotations

import pytest

from quotes import services
from quotes.tax import TaxCategory
from salesmarketing.services import api_key_create
from tests.quotes.factories import add_line, make_product

pytestmark = pytest.mark.django_db


def _auth(user=None):
    _key, plain = api_key_create(name="CRM", source="crm", scopes=["deals:write"], user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


@pytest.fixture
def quote(deal, owner, issuer):
    add_line(deal, owner, unit_price=37_035)
    add_line(deal, owner, unit_price=2_160, tax_category=TaxCategory.REDUCED)
    return services.quote_issue(quote=services.quote_create(deal=deal, by=owner), by=owner)


def test_a_quote_reads_with_its_totals_per_rate(client, owner, quote):
    response = client.get(f"/api/v1/quotes/{quote.pk}", **_auth(owner))

    body = response.json()
    assert response.status_code == 200
    assert (body["number"], body["subtotal"], body["tax"], body["total"]) == (
        quote.number,
        39_195,
        3_875,
        43_070,
    )
    assert [(r["category"], r["taxable"], r["tax"]) for r in body["rates"]] == [
        ("standard", 37_035, 3_703),
        ("reduced", 2_160, 172),
    ]
    assert [line["amount"] for line in body["lines"]] == [37_035, 2_160]


def test_a_deals_quotes_and_other_peoples(client, owner, outsider, quote, deal):
    assert [q["id"] for q in client.get(f"/api/v1/deals/{deal.pk}/quotes", **_auth(owner)).json()] == [
        quote.pk
    ]
    assert client.get(f"/api/v1/deals/{deal.pk}/quotes", **_auth(outsider)).status_code == 404
    assert client.get(f"/api/v1/quotes/{quote.pk}", **_auth(outsider)).status_code == 404
    assert client.get(f"/api/v1/quotes/{quote.pk}", **_auth()).status_code == 200  # an integration's key


def test_products_list(client, owner):
    make_product(code="LIC-1", unit_price=5_500)

    [product] = client.get("/api/v1/products", **_auth(owner)).json()

    assert (product["code"], product["unit_price"], product["tax_category"]) == ("LIC-1", 5_500, "standard")
