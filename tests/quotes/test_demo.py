"""The demo sets up quoting: a new user can put a product on a demo deal and issue a quote at once."""

from __future__ import annotations

import io

import pytest

from pipeline import demo as pipeline_demo
from pipeline.models import Deal
from quotes import demo
from quotes.models import Issuer, Product, Quote
from quotes.services.lines import line_item_add
from quotes.services.quotes import quote_create, quote_issue
from salesmarketing.demo import seed_users

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_an_issuer_and_products_once_and_a_rep_can_quote_a_demo_deal():
    users = seed_users()
    pipeline_demo.seed(users=users, stdout=io.StringIO())
    demo.seed(users=users, stdout=io.StringIO())
    out = io.StringIO()
    demo.seed(users=users, stdout=out)
    assert "already" in out.getvalue()
    issuer = Issuer.objects.get(is_default=True)
    assert issuer.registration_number == demo.ISSUER["registration_number"]
    assert Issuer.objects.count() == 1
    assert sorted(Product.objects.values_list("code", flat=True)) == sorted(p[0] for p in demo.PRODUCTS)

    rep = users["rep1"]
    deal = Deal.objects.filter(owner=rep, status=Deal.Status.OPEN).order_by("pk").first()
    line_item_add(deal=deal, by=rep, product=Product.objects.get(code="CLOUD-PRO"), quantity=50)
    line_item_add(deal=deal, by=rep, product=Product.objects.get(code="SETUP"))
    quote = quote_issue(quote=quote_create(deal=deal, by=rep), by=rep)
    assert quote.issuer == issuer and quote.number.startswith("Q-")
    assert quote.status == Quote.Status.APPROVED  # no discount: nothing for a manager to approve
    assert quote.subtotal == 50 * 800 + 150_000
    assert quote.frozen["issuer"]["registration_number"] == "T7000012050002"
