"""leads.detail.rows: several short reads of a page in one statement, back as the ORM would give them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Avg, Count, Max, Window
from django.utils import timezone

from leads.detail.rows import Rows, Totals, read_together
from leads.models import Handoff, Lead, Touch
from tests.leads.factories import HandoffFactory, TouchFactory, make_company, make_lead

pytestmark = pytest.mark.django_db


def test_branches_of_different_shapes_come_back_in_one_query(owner, django_assert_num_queries):
    company = make_company("株式会社一括")
    first = make_lead(company=company, owner=owner, name="一番")
    second = make_lead(company=company, name="二番")
    Lead.objects.filter(pk=first.pk).update(total_score=80, consent_email=True)
    Lead.objects.filter(pk=second.pk).update(total_score=40)
    at = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    TouchFactory(lead=first, occurred_at=at, properties={"subject": "件名", "ratio": 1.5, "tags": ["a"]})
    leads = Lead.objects.filter(company=company).order_by("-total_score", "pk")

    with django_assert_num_queries(1):
        found = read_together(
            leads=Rows(
                leads,
                ("id", "name", "email", "total_score", "consent_email", "created_at", "owner__display_name"),
                extra={"n": Window(Count("pk"))},
            ),
            touches=Rows(Touch.objects.filter(lead=first), ("id", "occurred_at", "properties", "type")),
            scores=Totals(leads, {"n": Count("pk"), "best": Max("total_score"), "avg": Avg("total_score")}),
            nothing=Totals(Lead.objects.none(), {"n": Count("pk")}, defaults={"n": 0}),
        )

    a, b = found["leads"]
    assert (a.pk, a.name, a.total_score, a.consent_email, a.n) == (first.pk, "一番", 80, True, 2)
    assert (b.name, b.consent_email, b.owner) == ("二番", False, None)
    assert a.created_at == Lead.objects.get(pk=first.pk).created_at and a.created_at.tzinfo is not None
    (touch,) = found["touches"]
    assert touch.occurred_at == at and touch.get_type_display()
    assert touch.properties == {"subject": "件名", "ratio": 1.5, "tags": ["a"]}  # JSON stays JSON
    assert found["scores"] == [{"n": 2, "best": 80, "avg": 60}]
    assert found["nothing"] == [{"n": 0}]
    with django_assert_num_queries(0):
        assert str(a.owner) == owner.display_name  # the related instance came along
        assert a.get_absolute_url() == first.get_absolute_url()


def test_rows_keep_their_querysets_order_and_limit(owner):
    lead = make_lead(owner=owner)
    now = timezone.now()
    for hours in (5, 1, 3):
        HandoffFactory(lead=lead, mql_at=now - dt.timedelta(hours=hours), state=Handoff.State.ACCEPTED)
    HandoffFactory(
        lead=lead, mql_at=now - dt.timedelta(hours=9), state=Handoff.State.ASSIGNED, sla_due_at=now
    )
    found = read_together(
        newest=Rows(Handoff.objects.order_by("-mql_at", "-id")[:2], ("id", "mql_at")),
        by_due=Rows(Handoff.objects.order_by("sla_due_at", "id"), ("id", "sla_due_at", "mql_at")),
    )
    assert [h.mql_at for h in found["newest"]] == [now - dt.timedelta(hours=1), now - dt.timedelta(hours=3)]
    assert found["by_due"][0].sla_due_at == now  # no due date sorts last going up, as PostgreSQL has it


def test_a_field_not_asked_for_is_deferred_and_an_order_must_be_asked_for(django_assert_num_queries):
    lead = make_lead(title="部長")
    (found,) = read_together(leads=Rows(Lead.objects.filter(pk=lead.pk).order_by("id"), ("id", "name")))[
        "leads"
    ]
    with django_assert_num_queries(1):
        assert found.title == "部長"  # loaded when read, as .only() would
    with pytest.raises(ValueError, match="ordered by 'created_at'"):
        read_together(leads=Rows(Lead.objects.order_by("created_at"), ("id", "name")))
