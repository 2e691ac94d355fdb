"""The rule compiler: each kind of rule, AND/OR groups, bad rules with their locations, one query per count, and
counts that agree with a plain Python recomputation over random rule trees (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Lead
from leads.privacy import lead_erase
from nurture.segments.rules import compile_rules, validate
from nurture.segments.selectors import rules_leads, segment_leads
from tests.leads.factories import CampaignFactory, make_company
from tests.nurture.factories import (
    SegmentFactory,
    SegmentMemberFactory,
    segment_lead,
    segment_scores,
    segment_touch,
)

pytestmark = pytest.mark.django_db


def _ids(rules: dict) -> set[int]:
    assert validate(rules) == [], validate(rules)
    return set(rules_leads(rules).values_list("id", flat=True))


def _all(*rules) -> dict:
    return {"op": "and", "rules": list(rules)}


def _any(*rules) -> dict:
    return {"op": "or", "rules": list(rules)}


def _rule(field, op, value=None) -> dict:
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


@pytest.fixture
def people(owner, outsider):
    """Four leads that differ in every field a rule reads."""
    maker = make_company("株式会社製造")
    maker.industry, maker.region, maker.employee_count = "manufacturing", "kanto", 500
    maker.save()
    shop = make_company("株式会社小売")
    shop.industry, shop.region, shop.employee_count = "retail", "kinki", 20
    shop.save()
    a = segment_lead(
        company=maker, owner=owner, title="情報システム部 部長", awareness_stage="semi", consent_email=True
    )
    b = segment_lead(
        company=shop, owner=outsider, title="担当", awareness_stage="latent", lifecycle_stage="mql"
    )
    c = segment_lead(
        company=None, title="課長", awareness_stage="manifest", consent_email=True, source="seminar"
    )
    d = segment_lead(company=maker, title="", awareness_stage="semi")
    segment_scores(a, fit=30, engagement=25)
    segment_scores(b, fit=10, engagement=5)
    segment_scores(c, fit=0, engagement=40)
    Lead.objects.filter(pk=d.pk).update(created_at=timezone.now() - dt.timedelta(days=100))
    return {"a": a, "b": b, "c": c, "d": d}


def test_lead_fields(people):
    a, b, c, d = (people[k].pk for k in "abcd")
    assert _ids(_all(_rule("awareness", "eq", "semi"))) == {a, d}
    assert _ids(_all(_rule("awareness", "ne", "semi"))) == {b, c}
    assert _ids(_all(_rule("lifecycle", "eq", "mql"))) == {b}
    assert _ids(_all(_rule("source", "eq", "seminar"))) == {c}
    assert _ids(_all(_rule("engagement_score", "gte", 25))) == {a, c}
    assert _ids(_all(_rule("total_score", "lt", 40))) == {b, d}
    assert _ids(_all(_rule("fit_score", "eq", 30))) == {a}
    assert _ids(_all(_rule("consent_email", "eq", True))) == {a, c}
    assert _ids(_all(_rule("emailable", "eq", False))) == {b, d}
    assert _ids(_all(_rule("title", "contains", "部長"))) == {a}
    assert _ids(_all(_rule("created", "within", 30))) == {a, b, c}
    assert _ids(_all(_rule("created", "not_within", 30))) == {d}


def test_owner_team_and_empty(people, owner, outsider, sales_team):
    a, b, c, d = (people[k].pk for k in "abcd")
    assert _ids(_all(_rule("owner", "eq", owner.pk))) == {a}
    assert _ids(_all(_rule("owner", "empty"))) == {c, d}
    assert _ids(_all(_rule("owner", "ne", owner.pk))) == {b, c, d}  # "is not" keeps the unowned
    assert _ids(_all(_rule("team", "eq", sales_team.pk))) == {a}
    assert _ids(_all(_rule("team", "ne", sales_team.pk))) == {b, c, d}


def test_company_fields(people):
    a, b, c, d = (people[k].pk for k in "abcd")
    assert _ids(_all(_rule("industry", "eq", "manufacturing"))) == {a, d}
    assert _ids(_all(_rule("industry", "ne", "manufacturing"))) == {b, c}  # no company: not manufacturing
    assert _ids(_all(_rule("region", "eq", "kinki"))) == {b}
    assert _ids(_all(_rule("employee_count", "gte", 100))) == {a, d}


def test_touches_of_a_type_campaign_and_url_within_days(people):
    a, b, c, d = (people[k] for k in "abcd")
    webinar = CampaignFactory()
    segment_touch(a, type="page_view", days_ago=3, campaign=webinar, url="https://example.jp/pricing")
    segment_touch(a, type="page_view", days_ago=5, campaign=webinar)  # a second one must not count a twice
    segment_touch(b, type="page_view", days_ago=45, campaign=webinar)
    segment_touch(c, type="content_download", days_ago=2, url="https://example.jp/whitepaper")
    touch = {"field": "touch", "op": "exists", "days": 30}
    assert _ids(_all(touch | {"type": "page_view"})) == {a.pk}
    assert _ids(_all(touch | {"campaign": webinar.pk})) == {a.pk}
    assert _ids(_all(touch | {"campaign": webinar.pk, "days": 60})) == {a.pk, b.pk}
    assert _ids(_all(touch | {"url": "whitepaper"})) == {c.pk}
    assert _ids(_all(touch)) == {a.pk, c.pk}
    assert _ids(_all(touch | {"op": "not_exists"})) == {b.pk, d.pk}
    assert rules_leads(_all(touch | {"type": "page_view"})).count() == 1  # EXISTS: no row per touch


def test_and_of_ors_and_or_of_ands(people):
    a, b, c, d = (people[k].pk for k in "abcd")
    semi_or_mql = _any(_rule("awareness", "eq", "semi"), _rule("lifecycle", "eq", "mql"))
    scored = _any(_rule("engagement_score", "gte", 20), _rule("fit_score", "gte", 10))
    assert _ids(_all(semi_or_mql, scored)) == {a, b}
    and_of = _any(
        _all(_rule("awareness", "eq", "semi"), _rule("owner", "empty")),
        _all(_rule("source", "eq", "seminar")),
    )
    assert _ids(and_of) == {c, d}
    assert _ids(_all()) == {a, b, c, d}  # an empty AND matches all, an empty OR none
    assert _ids(_any()) == set()


def test_bad_rules_are_reported_one_by_one_with_their_location():
    rules = _all(
        _rule("nope", "eq", "x"),
        _rule("awareness", "gte", "semi"),
        _rule("engagement_score", "gte", "20"),
        _rule("engagement_score", "gte", True),
        _rule("awareness", "eq", "hot"),
        _any(_rule("created", "within", 0), {"field": "touch", "op": "exists", "type": "fax", "days": 30}),
        {"field": "touch", "op": "exists", "campaign": 999999},
        _rule("owner", "eq", 999999),
        {"field": "title", "op": "contains", "value": "部長", "extra": 1},
    )
    errors = {tuple(e.loc): e.msg for e in validate(rules)}
    assert set(errors) == {
        ("rules", 0, "field"),
        ("rules", 1, "op"),
        ("rules", 2, "value"),
        ("rules", 3, "value"),
        ("rules", 4, "value"),
        ("rules", 5, "rules", 0, "value"),
        ("rules", 5, "rules", 1, "type"),
        ("rules", 6, "campaign"),
        ("rules", 6, "days"),
        ("rules", 7, "value"),
        ("rules", 8),
    }
    assert all(errors.values())


@pytest.mark.parametrize(
    "tree",
    [[], "and", {"op": "xor", "rules": []}, {"op": "and", "rules": "x"}, {"op": "and", "rules": [1]}],
)
def test_a_tree_that_is_not_a_group_is_refused(tree):
    assert validate(tree)


def test_groups_nest_at_most_three_deep():
    deep = _all(_any(_all(_any(_rule("awareness", "eq", "semi")))))
    assert [e.loc for e in validate(deep)] == [("rules", 0, "rules", 0, "rules", 0)]


def test_a_count_is_one_query(people, django_assert_num_queries):
    campaign = CampaignFactory()
    tree = _all(
        _rule("awareness", "eq", "semi"),
        _rule("engagement_score", "gte", 20),
        _any(_rule("industry", "eq", "manufacturing"), _rule("team", "empty")),
        {"field": "touch", "op": "exists", "type": "page_view", "campaign": campaign.pk, "days": 30},
    )
    segment = SegmentFactory(rules=tree)
    with django_assert_num_queries(1):
        segment_leads(segment).count()


def test_erased_leads_never_appear(people, marketer):
    static = SegmentMemberFactory(lead=people["a"]).segment
    dynamic = SegmentFactory(rules=_all(_rule("awareness", "eq", "semi")))
    lead_erase(lead=people["a"], by=marketer)
    assert not segment_leads(static).exists()
    assert set(segment_leads(dynamic).values_list("id", flat=True)) == {people["d"].pk}


# --- Counts agree with Python over random trees ---------------------------------------------------------


def _python_match(rule: dict, lead: Lead, touches: list, now) -> bool:  # noqa: PLR0911
    field, op, value = rule["field"], rule["op"], rule.get("value")
    if field == "touch":
        since = now - dt.timedelta(days=rule["days"])
        found = any(
            t.occurred_at >= since
            and (not rule.get("type") or t.type == rule["type"])
            and (rule.get("campaign") is None or t.campaign_id == rule["campaign"])
            for t in touches
        )
        return found if op == "exists" else not found
    actual = {
        "awareness": lead.awareness_stage,
        "engagement_score": lead.engagement_score,
        "industry": lead.company.industry if lead.company else None,
        "consent_email": lead.consent_email,
    }[field]
    return {
        "eq": actual == value,
        "ne": actual != value,
        "gte": actual is not None and actual >= value,
        "lt": actual is not None and actual < value,
    }[op]


def _python_tree(tree: dict, lead: Lead, touches: list, now) -> bool:
    results = (
        _python_tree(child, lead, touches, now)
        if "rules" in child
        else _python_match(child, lead, touches, now)
        for child in tree["rules"]
    )
    return all(results) if tree["op"] == "and" else any(results)


_leaf = st.one_of(
    st.builds(
        lambda v, op: _rule("awareness", op, v),
        st.sampled_from(["latent", "semi", "manifest"]),
        st.sampled_from(["eq", "ne"]),
    ),
    st.builds(
        lambda v, op: _rule("engagement_score", op, v), st.integers(0, 45), st.sampled_from(["gte", "lt"])
    ),
    st.builds(
        lambda v, op: _rule("industry", op, v),
        st.sampled_from(["manufacturing", "retail"]),
        st.sampled_from(["eq", "ne"]),
    ),
    st.builds(lambda v: _rule("consent_email", "eq", v), st.booleans()),
    st.builds(
        lambda t, d, op: {"field": "touch", "op": op, "type": t, "days": d},
        st.sampled_from(["page_view", "content_download"]),
        st.integers(1, 60),
        st.sampled_from(["exists", "not_exists"]),
    ),
)
_group = st.builds(
    lambda op, rules: {"op": op, "rules": rules}, st.sampled_from(["and", "or"]), st.lists(_leaf, max_size=3)
)
_tree = st.builds(
    lambda op, rules: {"op": op, "rules": rules},
    st.sampled_from(["and", "or"]),
    st.lists(st.one_of(_leaf, _group), max_size=4),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_tree)
def test_counts_agree_with_python(people, tree):
    leads = list(Lead.objects.select_related("company").prefetch_related("touches"))
    if not any(lead.touches.all() for lead in leads):
        segment_touch(people["a"], type="page_view", days_ago=10)
        segment_touch(people["c"], type="content_download", days_ago=40)
        leads = list(Lead.objects.select_related("company").prefetch_related("touches"))
    now = timezone.now()
    expected = {lead.pk for lead in leads if _python_tree(tree, lead, list(lead.touches.all()), now)}
    assert set(Lead.objects.filter(compile_rules(tree, now=now)).values_list("id", flat=True)) == expected
