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


def test_products_are_created_and_changed_by_managers_only(client, owner, manager):
    body = {
        "code": "SUP-1",
        "name_ja": "導入支援",
        "unit_price": 300_000,
        "unit": "set",
        "tax_category": "standard",
    }
    assert (
        client.post("/api/v1/products", body, content_type="application/json", **_auth(owner)).status_code
        == 403
    )
    created = client.post("/api/v1/products", body, content_type="application/json", **_auth(manager))
    assert created.status_code == 201 and created.json()["unit_price"] == 300_000
    again = client.post("/api/v1/products", body, content_type="application/json", **_auth(manager))
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "code"]
    changed = client.patch(
        f"/api/v1/products/{created.json()['id']}",
        {"active": False},
        content_type="application/json",
        **_auth(),
    )  # an integration's key
    assert changed.status_code == 200 and changed.json()["active"] is False
    bad = client.patch(
        f"/api/v1/products/{created.json()['id']}",
        {"unit": "bushel"},
        content_type="application/json",
        **_auth(),
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "unit"]


def test_line_items_through_the_api_set_the_deals_amount(client, owner, outsider, deal, marketer):
    from pipeline.models import Deal

    product = make_product(code="LIC-1", unit_price=5_500)
    url = f"/api/v1/deals/{deal.pk}/items"
    added = client.post(
        url, {"product_id": product.pk, "quantity": "10"}, content_type="application/json", **_auth(owner)
    )
    assert added.status_code == 201
    assert (added.json()["description"], added.json()["amount"]) == (product.name_ja, 55_000)
    free = client.post(
        url,
        {
            "description": "初期設定",
            "unit_price": 100_000,
            "discount_kind": "percent",
            "discount_value": "10",
        },
        content_type="application/json",
        **_auth(owner),
    )
    assert free.json()["amount"] == 90_000
    assert Deal.objects.get(pk=deal.pk).amount == 145_000
    bad = client.post(
        url,
        {"description": "x", "unit_price": 1, "quantity": "0"},
        content_type="application/json",
        **_auth(owner),
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "quantity"]

    item = free.json()["id"]
    patched = client.patch(
        f"/api/v1/items/{item}", {"discount_value": "20"}, content_type="application/json", **_auth(owner)
    )
    assert patched.json()["amount"] == 80_000 and Deal.objects.get(pk=deal.pk).amount == 135_000
    assert [i["id"] for i in client.get(url, **_auth(owner)).json()] == [added.json()["id"], item]

    # Other people's deals are not there; marketing reads them and changes nothing.
    assert (
        client.post(
            url, {"description": "x", "unit_price": 1}, content_type="application/json", **_auth(outsider)
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/items/{item}", {}, content_type="application/json", **_auth(outsider)
        ).status_code
        == 404
    )
    assert client.get(url, **_auth(marketer)).status_code == 200
    assert client.delete(f"/api/v1/items/{item}", **_auth(marketer)).status_code == 404
    assert client.delete(f"/api/v1/items/{item}", **_auth(owner)).status_code == 204
    assert Deal.objects.get(pk=deal.pk).amount == 55_000


def test_a_quote_is_made_issued_approved_and_sent_through_the_api(
    client, owner, manager, deal, issuer, smtp_sink, django_capture_on_commit_callbacks
):
    from quotes.models import Quote
    from tests.leads.factories import LeadFactory

    deal.contact = LeadFactory(email="buyer@yamada.example.jp", owner=owner)
    deal.save(update_fields=["contact"])
    add_line(
        deal, owner, unit_price=100_000, discount_kind="percent", discount_value=50
    )  # above the threshold
    assert (
        client.post(
            f"/api/v1/deals/{deal.pk}/quotes", {}, content_type="application/json", **_auth()
        ).status_code
        == 403
    )
    bad = client.post(
        f"/api/v1/deals/{deal.pk}/quotes",
        {"valid_until": "2000-01-01"},
        content_type="application/json",
        **_auth(owner),
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "valid_until"]
    made = client.post(
        f"/api/v1/deals/{deal.pk}/quotes",
        {"subject": "勤怠管理クラウド"},
        content_type="application/json",
        **_auth(owner),
    )
    assert made.status_code == 201 and made.json()["status"] == "draft" and made.json()["subtotal"] == 50_000
    quote = made.json()["id"]
    assert (
        client.patch(
            f"/api/v1/quotes/{quote}",
            {"notes": "納期は別途"},
            content_type="application/json",
            **_auth(owner),
        ).status_code
        == 200
    )

    act = lambda action, user, body=None: client.post(  # noqa: E731
        f"/api/v1/quotes/{quote}/{action}", body or {}, content_type="application/json", **_auth(user)
    )
    assert act("issue", owner).json()["status"] == "pending_approval"
    assert act("send", owner).status_code == 409  # not approved yet
    assert act("approve", owner).status_code == 403  # not by its own author
    assert act("approve", manager, {"comment": "今期限定"}).json()["status"] == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        sent = act("send", owner, {"email": True})
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert Quote.objects.get(pk=quote).approval_comment == "今期限定"
    assert [r for rs in smtp_sink.recipients for r in rs] == ["buyer@yamada.example.jp"]  # with the PDF
    assert act("accept", owner).json()["status"] == "accepted"
    assert act("decline", owner).status_code == 409
    assert act("fly", owner).status_code == 422  # not an action
