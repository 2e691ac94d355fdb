"""The sequence pages and API: who may use them, steps edited by HTMX, enrolment from the sequence page, the lead
page and the lead list, pause/resume, removing an enrolment, pinned query counts, and the JSON API."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leads.models import Lead
from nurture.models import Enrolment, EnrolmentState, ExitReason, Sequence, SequenceStatus, SequenceStep
from nurture.sequences import services
from salesmarketing.services import api_key_create
from tests.nurture.factories import MailTemplateFactory, sequence_make
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_marketer(client, marketer):
    client.force_login(marketer)
    return marketer


def test_sales_reps_get_403_and_anonymous_visitors_the_login(client, owner, mail_template):
    sequence = sequence_make(template=mail_template)
    lead = mail_lead("x@sample.example.jp")
    pages = [
        reverse("nurture:sequence_list"),
        reverse("nurture:sequence_new"),
        reverse("nurture:sequence_detail", args=[sequence.pk]),
        reverse("nurture:sequence_edit", args=[sequence.pk]),
        reverse("nurture:sequence_enrol_lead", args=[lead.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 302
    client.force_login(owner)
    for url in pages:
        assert client.get(url).status_code == 403
    posts = [
        reverse("nurture:sequence_status", args=[sequence.pk, "pause"]),
        reverse("nurture:sequence_step_add", args=[sequence.pk]),
        reverse("nurture:sequence_enrol", args=[sequence.pk]),
        reverse("nurture:sequence_enrol_selection"),
    ]
    for url in posts:
        assert client.post(url, {"lead": lead.pk}).status_code == 403
    assert Sequence.objects.get().status == SequenceStatus.ACTIVE and not Enrolment.objects.exists()
    # Nor does a rep see the lead list's bulk button.
    assert (
        reverse("nurture:sequence_enrol_selection") not in client.get(reverse("leads:list")).content.decode()
    )


def test_a_marketer_creates_a_sequence_and_edits_its_steps_by_htmx(client, as_marketer, mail_template):
    response = client.post(
        reverse("nurture:sequence_new"),
        {"name": "失注リサイクル", "language": "ja", "on_reject_too_early": "on"},
    )
    sequence = Sequence.objects.get()
    assert response.status_code == 302 and sequence.on_reject_too_early and sequence.created_by == as_marketer
    other = MailTemplateFactory(name="事例紹介")
    add = reverse("nurture:sequence_step_add", args=[sequence.pk])
    for template, wait in ((mail_template, 0), (other, 3)):
        page = client.post(
            add, {"template": template.pk, "wait_days": wait, "send_hour": 10}, HTTP_HX_REQUEST="true"
        )
        assert page.status_code == 200 and 'id="sequence-steps"' in page.content.decode()
    bad = client.post(add, {"template": "", "wait_days": 1, "send_hour": 30}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and 'role="alert"' in bad.content.decode()
    first, second = sequence.steps.order_by("position")
    client.post(
        reverse("nurture:sequence_step_action", args=[sequence.pk, second.pk, "up"]), HTTP_HX_REQUEST="true"
    )
    assert list(sequence.steps.order_by("position").values_list("template__name", flat=True)) == [
        "事例紹介",
        mail_template.name,
    ]
    client.post(reverse("nurture:sequence_step_action", args=[sequence.pk, first.pk, "remove"]))
    assert list(SequenceStep.objects.values_list("position", flat=True)) == [1]
    # A step of another sequence is not reachable through this one.
    elsewhere = sequence_make(template=mail_template).steps.first()
    assert (
        client.post(
            reverse("nurture:sequence_step_action", args=[sequence.pk, elsewhere.pk, "remove"])
        ).status_code
        == 404
    )


def test_enrol_from_the_sequence_page_the_lead_page_and_the_lead_list(client, as_marketer, mail_template):
    sequence = sequence_make(template=mail_template)
    one, two, three = (mail_lead(f"e{i}@sample.example.jp") for i in range(3))
    client.post(reverse("nurture:sequence_enrol", args=[sequence.pk]), {"lead": one.pk})
    # The lead page offers the action (a hook nurture registers); its page enrols.
    lead_page = client.get(reverse("leads:detail", args=[two.pk])).content.decode()
    assert reverse("nurture:sequence_enrol_lead", args=[two.pk]) in lead_page
    client.post(reverse("nurture:sequence_enrol_lead", args=[two.pk]), {"sequence": sequence.pk})
    # The lead list's bulk bar: first the choice, then the enrolment.
    assert reverse("nurture:sequence_enrol_selection") in client.get(reverse("leads:list")).content.decode()
    ask = client.post(reverse("nurture:sequence_enrol_selection"), {"lead": [two.pk, three.pk]})
    assert ask.status_code == 200 and f'value="{three.pk}"' in ask.content.decode()
    client.post(
        reverse("nurture:sequence_enrol_selection"), {"lead": [two.pk, three.pk], "sequence": sequence.pk}
    )
    assert set(Enrolment.objects.values_list("lead_id", flat=True)) == {one.pk, two.pk, three.pk}
    assert Enrolment.objects.count() == 3  # two was already in: not twice
    # A duplicate by hand is refused with the reason.
    again = client.post(reverse("nurture:sequence_enrol", args=[sequence.pk]), {"lead": one.pk}, follow=True)
    assert "既にこのステップメールに登録されています" in again.content.decode()
    assert (
        client.post(reverse("nurture:sequence_enrol", args=[sequence.pk]), {"lead": 999999}).status_code
        == 404
    )


def test_pause_resume_and_remove_an_enrolment(client, as_marketer, mail_template):
    sequence = sequence_make(template=mail_template)
    enrolment = services.enrol_lead(sequence=sequence, lead=mail_lead("r@sample.example.jp"), by=None)
    client.post(reverse("nurture:sequence_status", args=[sequence.pk, "pause"]))
    assert Sequence.objects.get().status == SequenceStatus.PAUSED
    client.post(reverse("nurture:sequence_status", args=[sequence.pk, "resume"]))
    assert Sequence.objects.get().status == SequenceStatus.ACTIVE
    client.post(reverse("nurture:sequence_enrolment_remove", args=[sequence.pk, enrolment.pk]))
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.exit_reason) == (EnrolmentState.EXITED, ExitReason.REMOVED)
    page = client.get(reverse("nurture:sequence_detail", args=[sequence.pk])).content.decode()
    assert "手動で除外" in page


def _fill(n: int, template) -> Sequence:
    sequence = None
    for i in range(n):
        sequence = sequence_make(template=template, name=f"シーケンス {i}")
        services.enrol_leads(
            sequence=sequence,
            leads=Lead.objects.filter(pk=mail_lead(f"q{i}@sample.example.jp").pk),
            source="manual",
        )
    assert sequence is not None
    return sequence


@pytest.mark.parametrize("n", [2, 3])
def test_the_list_and_detail_pages_take_pinned_queries(
    client, as_marketer, mail_template, n, django_assert_num_queries
):
    sequence = _fill(n, mail_template)
    # session, user (with the layout's unread count and team), sequences (with counts)
    with django_assert_num_queries(3):
        assert client.get(reverse("nurture:sequence_list")).status_code == 200
    with django_assert_num_queries(7):  # + sequence, steps, step counts, enrolment count and page
        assert client.get(reverse("nurture:sequence_detail", args=[sequence.pk])).status_code == 200
    # session, user (with the unread count), sequence, enrolment count and page
    with django_assert_num_queries(5):
        assert (
            client.get(
                reverse("nurture:sequence_detail", args=[sequence.pk]), HTTP_HX_REQUEST="true"
            ).status_code
            == 200
        )


# --- API -------------------------------------------------------------------------------------------------------


class Api:
    def __init__(self, client, *, scopes=("segments:read", "segments:write", "leads:read"), user=None):
        _key, plain = api_key_create(name="seq", source="seq", scopes=list(scopes), user=user)
        self.client, self.headers = client, {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

    def __call__(self, method: str, path: str, body=None):
        kwargs = dict(self.headers)
        if body is not None:
            kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)


def test_the_api_lists_enrols_reads_and_exits(client, marketer, mail_template):
    api = Api(client, user=marketer)
    sequence = sequence_make(template=mail_template, steps=3)
    lead = mail_lead("api@sample.example.jp")
    listed = api("get", "/sequences").json()
    assert listed[0]["id"] == sequence.pk and listed[0]["step_count"] == 3
    created = api("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": lead.pk})
    assert created.status_code == 201 and created.json()["source"] == "api"
    assert api("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": lead.pk}).status_code == 409
    enrolments = api("get", f"/leads/{lead.pk}/enrolments").json()
    assert [e["state"] for e in enrolments] == ["active"]
    exited = api("post", f"/enrolments/{enrolments[0]['id']}/exit")
    assert exited.status_code == 200 and exited.json()["exit_reason"] == "removed"
    assert api("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": 999999}).status_code == 404


def test_the_api_checks_scopes_roles_and_visibility(client, owner, outsider, mail_template):
    sequence = sequence_make(template=mail_template)
    lead = mail_lead("vis@sample.example.jp")
    Lead.objects.filter(pk=lead.pk).update(owner=owner)
    services.enrol_lead(sequence=sequence, lead=lead, by=None)
    read_only = Api(client, scopes=["segments:read"])
    assert read_only("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": lead.pk}).status_code == 403
    assert read_only("get", f"/leads/{lead.pk}/enrolments").status_code == 403  # leads:read missing
    rep = Api(client, user=owner)
    assert rep("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": lead.pk}).status_code == 403
    assert rep("get", f"/leads/{lead.pk}/enrolments").status_code == 200
    assert Api(client, user=outsider)("get", f"/leads/{lead.pk}/enrolments").status_code == 404
