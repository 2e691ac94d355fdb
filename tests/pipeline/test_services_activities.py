"""Activities (with the voice of the customer) and tasks; an activity shows on the lead's timeline as a touch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Touch
from leads.services import touch_record
from pipeline import services
from pipeline.models import Activity
from tests.leads.factories import make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def test_an_activity_on_a_deal_with_a_contact_records_a_sales_activity_touch(owner):
    company = make_company()
    lead = make_lead(company=company)
    deal = make_deal(owner=owner, company=company, contact=lead)
    when = timezone.now() - dt.timedelta(hours=2)

    activity = services.activity_log(
        by=owner,
        deal=deal,
        type=Activity.Type.MEETING,
        subject="課題ヒアリング",
        occurred_at=when,
        is_voice=True,
        voice_text="部下の残業が多くて困っている",
    )

    touch = Touch.objects.get(lead=lead)
    assert (touch.type, touch.source, touch.idempotency_key) == (
        "sales_activity",
        "pipeline",
        f"activity:{activity.pk}",
    )
    assert touch.occurred_at == when
    assert touch.properties["deal_id"] == deal.pk
    lead.refresh_from_db()
    assert lead.last_touch_at == when
    assert activity.lead == lead


def test_replaying_the_touch_of_an_activity_changes_nothing(owner):
    lead = make_lead()
    activity = services.activity_log(by=owner, lead=lead, type="call", subject="初回電話")
    _touch, created = touch_record(
        lead=lead, type="sales_activity", source="pipeline", idempotency_key=f"activity:{activity.pk}"
    )
    assert not created
    assert Touch.objects.filter(lead=lead).count() == 1


def test_an_activity_on_a_deal_without_a_contact_makes_no_touch(deal, owner):
    services.activity_log(by=owner, deal=deal, type="email", subject="資料送付")
    assert Touch.objects.count() == 0


def test_the_voice_of_the_customer_needs_what_they_said(deal, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.activity_log(by=owner, deal=deal, type="call", subject="電話", is_voice=True, voice_text=" ")
    assert list(excinfo.value.message_dict) == ["voice_text"]


def test_an_activity_needs_a_type_a_subject_and_something_to_hang_on(owner):
    with pytest.raises(ValidationError) as excinfo:
        services.activity_log(by=owner, type="fax", subject="")
    assert set(excinfo.value.message_dict) == {"type", "subject", "__all__"}


def test_a_task_is_assigned_to_the_deal_owner_and_completes_once(deal, owner, teammate):
    task = services.task_create(
        deal=deal, title="見積書を作成する", due_date=timezone.localdate(), by=teammate
    )
    assert task.assignee == owner

    done = services.task_complete(task=task, by=owner)
    first_done_at = done.done_at
    again = services.task_complete(task=task, by=owner)
    assert first_done_at is not None and again.done_at == first_done_at


def test_a_task_needs_a_title_and_a_due_date(deal, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.task_create(deal=deal, title=" ", due_date=None, by=owner)
    assert set(excinfo.value.message_dict) == {"title", "due_date"}
