"""Segment rules on the custom fields flagged "segment rule" — the lead's (`custom.<key>`), its company's
(`company.custom.<key>`) and its deals' (`deal.custom.<key>`): equals, contains, greater than by type; checked like
every rule; offered by the builder page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from leads.custom_fields.services import field_definition_create
from leads.models import CustomFieldType, CustomObject
from nurture.models import Segment
from nurture.segments.rules import validate
from nurture.segments.selectors import rules_leads, segment_leads
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def define(key, field_type, **fields):
    fields.setdefault("label_ja", key)
    fields.setdefault("in_segment", True)
    return field_definition_create(
        by=None, object_type=CustomObject.LEAD, key=key, field_type=field_type, **fields
    )


@pytest.fixture
def people():
    define("budget", CustomFieldType.NUMBER, label_ja="予算")
    define("due", CustomFieldType.DATE)
    define("plan", CustomFieldType.CHOICE, options=["松", "竹", "梅"])
    define("tools", CustomFieldType.MULTI_CHOICE, options=["Excel", "kintone", "Salesforce"])
    define("note", CustomFieldType.TEXT)
    define("listed", CustomFieldType.BOOLEAN)
    define("not_in_segments", CustomFieldType.TEXT, in_segment=False)
    return {
        "big": LeadFactory(
            custom={
                "budget": 9_000_000,
                "due": "2026-04-01",
                "plan": "松",
                "tools": ["Excel", "kintone"],
                "note": "至急 見積希望",
                "listed": True,
            },
        ),  # fmt: skip
        "small": LeadFactory(
            custom={
                "budget": 300_000,
                "due": "2027-01-15",
                "plan": "梅",
                "tools": ["Salesforce"],
                "listed": False,
            }
        ),
        "none": LeadFactory(),
    }


def _match(people, *rules) -> set[str]:
    tree = {"op": "and", "rules": list(rules)}
    assert validate(tree) == []
    ids = set(rules_leads(tree).values_list("pk", flat=True))
    return {name for name, lead in people.items() if lead.pk in ids}


def test_equals_contains_and_comparisons_by_type(people):
    assert _match(people, {"field": "custom.budget", "op": "gt", "value": 1_000_000}) == {"big"}
    assert _match(people, {"field": "custom.budget", "op": "lte", "value": 300_000}) == {"small"}
    assert _match(people, {"field": "custom.budget", "op": "eq", "value": 300000}) == {"small"}
    assert _match(people, {"field": "custom.due", "op": "lt", "value": "2026-12-31"}) == {"big"}
    assert _match(people, {"field": "custom.plan", "op": "eq", "value": "梅"}) == {"small"}
    assert _match(people, {"field": "custom.plan", "op": "ne", "value": "梅"}) == {"big", "none"}
    assert _match(people, {"field": "custom.tools", "op": "includes", "value": "kintone"}) == {"big"}
    assert _match(people, {"field": "custom.note", "op": "contains", "value": "見積"}) == {"big"}
    assert _match(people, {"field": "custom.listed", "op": "eq", "value": False}) == {"small"}
    assert _match(people, {"field": "custom.note", "op": "empty"}) == {"small", "none"}
    assert _match(people, {"field": "custom.budget", "op": "not_empty"}) == {"big", "small"}


def test_a_rule_on_a_custom_field_combines_with_the_others(people):
    people["small"].lifecycle_stage = "mql"
    people["small"].save()
    rules = (
        {"field": "lifecycle", "op": "eq", "value": "mql"},
        {"field": "custom.budget", "op": "gte", "value": 100_000},
    )
    assert _match(people, *rules) == {"small"}


def test_bad_custom_rules_are_reported_at_their_place(people):
    tree = {
        "op": "and",
        "rules": [
            {"field": "custom.budget", "op": "gt", "value": "many"},
            {"field": "custom.due", "op": "gt", "value": "2026/04/01"},
            {"field": "custom.plan", "op": "eq", "value": "竹竹"},
            {"field": "custom.tools", "op": "eq", "value": "Excel"},
            {"field": "custom.not_in_segments", "op": "eq", "value": "x"},
            {"field": "custom.unknown", "op": "eq", "value": "x"},
        ],
    }
    with translation.override("en"):
        errors = {error.loc: error.msg for error in validate(tree)}
    assert errors == {
        ("rules", 0, "value"): "Enter a number.",
        ("rules", 1, "value"): "Enter a date such as 2026-04-01.",
        ("rules", 2, "value"): "Choose one of the listed values.",
        ("rules", 3, "op"): "This condition does not apply to tools.",
        ("rules", 4, "field"): "Choose a field.",
        ("rules", 5, "field"): "Choose a field.",
    }


def test_the_builder_offers_the_segment_fields_and_saves_a_custom_rule(client, marketer, people):
    client.force_login(marketer)
    page = client.get(reverse("nurture:segment_create")).content.decode()
    assert 'value="custom.budget"' in page and 'value="custom.not_in_segments"' not in page
    data = {
        "name": "予算100万以上",
        "kind": "dynamic",
        "top_op": "and",
        "g-0-op": "and",
        "r-0-0-field": "custom.budget",
        "r-0-0-prev": "custom.budget",
        "r-0-0-op": "gte",
        "r-0-0-value": "1000000",
    }
    response = client.post(reverse("nurture:segment_create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="予算100万以上")
    assert segment.rules["rules"][0]["rules"] == [{"field": "custom.budget", "op": "gte", "value": 1_000_000}]
    assert list(segment_leads(segment)) == [people["big"]]
    edit = client.get(reverse("nurture:segment_edit", args=[segment.pk])).content.decode()
    assert 'type="number" name="r-0-0-value" value="1000000"' in edit


# --- The lead's company's custom fields (`company.custom.<key>`) -------------------------------------------


@pytest.fixture
def accounts():
    for key, field_type, options in (
        ("plan", CustomFieldType.CHOICE, ["有償", "無償"]),
        ("seats", CustomFieldType.NUMBER, []),
        ("tags", CustomFieldType.MULTI_CHOICE, ["製造", "IT"]),
        ("listed", CustomFieldType.BOOLEAN, []),
    ):
        field_definition_create(
            by=None, object_type=CustomObject.COMPANY, key=key, field_type=field_type, label_ja=key,
            options=options, in_segment=True,
        )  # fmt: skip
    field_definition_create(
        by=None,
        object_type=CustomObject.COMPANY,
        key="memo",
        field_type=CustomFieldType.TEXT,
        label_ja="memo",
    )
    paid = CompanyFactory(custom={"plan": "有償", "seats": 500, "tags": ["製造", "IT"], "listed": True})
    free = CompanyFactory(custom={"plan": "無償", "seats": 5})
    return {
        "paid": LeadFactory(company=paid, custom={"plan": "無償"}),  # the lead's own "plan" is another field
        "free": LeadFactory(company=free),
        "bare": LeadFactory(company=CompanyFactory()),
        "alone": LeadFactory(company=None),
    }


def test_rules_on_the_companys_custom_fields_match_its_leads(accounts):
    assert _match(accounts, {"field": "company.custom.plan", "op": "eq", "value": "有償"}) == {"paid"}
    assert _match(accounts, {"field": "company.custom.plan", "op": "ne", "value": "有償"}) == {
        "free",
        "bare",
        "alone",
    }
    assert _match(accounts, {"field": "company.custom.seats", "op": "gte", "value": 100}) == {"paid"}
    assert _match(accounts, {"field": "company.custom.seats", "op": "lt", "value": 100}) == {"free"}
    assert _match(accounts, {"field": "company.custom.tags", "op": "includes", "value": "IT"}) == {"paid"}
    assert _match(accounts, {"field": "company.custom.listed", "op": "eq", "value": True}) == {"paid"}
    assert _match(accounts, {"field": "company.custom.seats", "op": "empty"}) == {"bare", "alone"}
    assert _match(accounts, {"field": "company.custom.plan", "op": "not_empty"}) == {"paid", "free"}
    both = (
        {"field": "company.custom.plan", "op": "eq", "value": "有償"},
        {"field": "lifecycle", "op": "eq", "value": accounts["paid"].lifecycle_stage},
    )
    assert _match(accounts, *both) == {"paid"}


def test_bad_company_rules_are_reported_at_their_place(accounts):
    tree = {
        "op": "and",
        "rules": [
            {"field": "company.custom.seats", "op": "gt", "value": "many"},
            {"field": "company.custom.plan", "op": "eq", "value": "松"},
            {"field": "company.custom.memo", "op": "eq", "value": "x"},  # not flagged "segment rule"
            {"field": "custom.seats", "op": "gt", "value": 1},  # a company field is not the lead's
        ],
    }
    with translation.override("en"):
        errors = {error.loc: error.msg for error in validate(tree)}
    assert errors == {
        ("rules", 0, "value"): "Enter a number.",
        ("rules", 1, "value"): "Choose one of the listed values.",
        ("rules", 2, "field"): "Choose a field.",
        ("rules", 3, "field"): "Choose a field.",
    }


def test_the_builder_offers_the_company_fields_and_saves_a_rule_on_one(client, marketer, accounts):
    client.force_login(marketer)
    with translation.override("en"):
        page = client.get(reverse("nurture:segment_create"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="company.custom.seats"' in page and 'value="company.custom.memo"' not in page
    data = {
        "name": "有償契約の会社",
        "kind": "dynamic",
        "top_op": "and",
        "g-0-op": "and",
        "r-0-0-field": "company.custom.seats",
        "r-0-0-prev": "company.custom.seats",
        "r-0-0-op": "gte",
        "r-0-0-value": "100",
    }
    response = client.post(reverse("nurture:segment_create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="有償契約の会社")
    assert segment.rules["rules"][0]["rules"] == [
        {"field": "company.custom.seats", "op": "gte", "value": 100}
    ]
    assert list(segment_leads(segment)) == [accounts["paid"]]
    edit = client.get(reverse("nurture:segment_edit", args=[segment.pk])).content.decode()
    assert 'type="number" name="r-0-0-value" value="100"' in edit


# --- The lead's deals' custom fields (`deal.custom.<key>`) -----------------------------------------------------


@pytest.fixture
def dealings(owner):
    for key, field_type, options in (
        ("product", CustomFieldType.CHOICE, ["SFA", "MA"]),
        ("licences", CustomFieldType.NUMBER, []),
    ):
        field_definition_create(
            by=None, object_type=CustomObject.DEAL, key=key, field_type=field_type, label_ja=key,
            options=options, in_segment=True, in_form=True,
        )  # fmt: skip
    people = {
        "sfa": LeadFactory(custom={"product": "MA"}),  # the lead's own "product" would be another field
        "ma": LeadFactory(),
        "both": LeadFactory(),
        "no_deal": LeadFactory(),
    }
    make_deal(owner=owner, contact=people["sfa"], custom={"product": "SFA", "licences": 50})
    make_deal(owner=owner, contact=people["ma"], custom={"product": "MA", "licences": 5})
    make_deal(owner=owner, contact=people["both"], custom={"product": "MA"})
    make_deal(owner=owner, contact=people["both"], custom={"product": "SFA", "licences": 500})
    make_deal(owner=owner, contact=None, custom={"product": "SFA"})  # no contact: nobody's
    return people


def test_rules_on_a_deals_custom_fields_match_the_leads_with_such_a_deal(dealings, django_assert_num_queries):
    assert _match(dealings, {"field": "deal.custom.product", "op": "eq", "value": "SFA"}) == {"sfa", "both"}
    assert _match(dealings, {"field": "deal.custom.product", "op": "ne", "value": "SFA"}) == {"ma", "both"}
    assert _match(dealings, {"field": "deal.custom.licences", "op": "gte", "value": 50}) == {"sfa", "both"}
    assert _match(dealings, {"field": "deal.custom.licences", "op": "empty"}) == {"both"}  # its MA deal
    lead_rule = {"op": "and", "rules": [{"field": "custom.product", "op": "eq", "value": "MA"}]}
    assert [e.loc for e in validate(lead_rule)] == [("rules", 0, "field")]  # a deal's field is not the lead's
    one_deal = (  # both conditions on one deal: "both" has SFA with 500 licences, "sfa" 50
        {"op": "and", "rules": [{"field": "deal.custom.product", "op": "eq", "value": "SFA"},
                                {"field": "deal.custom.licences", "op": "gt", "value": 100}]},
    )  # fmt: skip
    assert _match(dealings, *one_deal) == {"both"}
    tree = {"op": "or", "rules": [{"field": "deal.custom.product", "op": "eq", "value": "MA"}]}
    qs = rules_leads(tree)
    with django_assert_num_queries(1) as captured:  # one SQL query: the deals as an EXISTS, no Python loop
        assert qs.count() == 2
    assert "EXISTS" in captured.captured_queries[0]["sql"].upper()


def test_the_builder_offers_the_deal_fields_and_saves_a_rule_on_one(client, marketer, dealings):
    client.force_login(marketer)
    with translation.override("en"):
        page = client.get(reverse("nurture:segment_create"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="deal.custom.product"' in page and "Deal: product" in page
    data = {
        "name": "SFA の商談がある人",
        "kind": "dynamic",
        "top_op": "and",
        "g-0-op": "and",
        "r-0-0-field": "deal.custom.product",
        "r-0-0-prev": "deal.custom.product",
        "r-0-0-op": "eq",
        "r-0-0-value": "SFA",
    }
    response = client.post(reverse("nurture:segment_create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="SFA の商談がある人")
    assert {lead.pk for lead in segment_leads(segment)} == {dealings["sfa"].pk, dealings["both"].pk}
