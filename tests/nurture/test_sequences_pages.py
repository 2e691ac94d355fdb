"""The sequence pages and API: who may use them, steps edited by HTMX, enrolment from the sequence page, the lead
page and the lead list, pause/resume, removing an enrolment, pinned query counts, and the JSON API."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leads.choices import LifecycleStage
from leads.handoffs.services import handoff_reject
from leads.models import Handoff, Lead
from nurture.models import Enrolment, EnrolmentState, ExitReason, Sequence, SequenceStatus, SequenceStep
from nurture.sequences import services
from salesmarketing.services import api_key_create
from tests.leads.factories import HandoffFactory
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


def _rejected_enrolment(sequence, rep) -> Enrolment:
    """A lead sales rejected as too early, enrolled by the sequence's rule (the handoff and its reason recorded)."""
    lead = mail_lead("early@sample.example.jp")
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=LifecycleStage.MQL)
    handoff = HandoffFactory(lead=lead, owner=rep, team=rep.team, state=Handoff.State.ASSIGNED)
    handoff_reject(handoff=handoff, by=rep, reason=Handoff.RejectReason.TOO_EARLY)
    return Enrolment.objects.get(lead=lead, sequence=sequence)


def test_the_api_shows_who_enrolled_and_removed_a_lead_and_the_rejected_handoff(
    client, marketer, owner, mail_template
):
    """What the lead's timeline shows of an enrolment, the API answers: who enrolled it, who removed it (the key's
    user, when removed through the API), and the rejected handoff with its reason."""
    sequence = sequence_make(template=mail_template, on_reject_too_early=True)
    api = Api(client, user=marketer)
    recycled = _rejected_enrolment(sequence, owner)
    read = api("get", f"/enrolments/{recycled.pk}").json()
    assert read["source"] == "handoff_rejected" and read["handoff_id"] == recycled.handoff_id
    assert read["handoff_reject_reason"] == "too_early" and read["enrolled_by_id"] == owner.pk  # who rejected
    lead = mail_lead("api@sample.example.jp")
    created = api("post", f"/sequences/{sequence.pk}/enrolments", {"lead_id": lead.pk}).json()
    assert created["enrolled_by_id"] == marketer.pk and created["ended_by_id"] is None
    assert created["handoff_id"] is None and created["handoff_reject_reason"] == ""
    exited = api("post", f"/enrolments/{created['id']}/exit").json()
    assert exited["state"] == "exited" and exited["exit_reason"] == "removed"
    assert exited["ended_by_id"] == marketer.pk and exited["ended_at"] is not None
    assert Enrolment.objects.get(pk=created["id"]).ended_by == marketer  # recorded, not only answered
    (listed,) = api("get", f"/leads/{lead.pk}/enrolments").json()
    assert listed == api("get", f"/enrolments/{created['id']}").json() == exited
    # An integration's key acts for nobody: the exit is recorded without a remover.
    other = services.enrol_lead(sequence=sequence, lead=mail_lead("int@sample.example.jp"), by=None)
    integration = Api(client)
    assert integration("post", f"/enrolments/{other.pk}/exit").json()["ended_by_id"] is None
    # A sequence's enrolments, newest first, as its page lists them.
    page = api("get", f"/sequences/{sequence.pk}/enrolments").json()
    assert [e["id"] for e in page["items"]] == [other.pk, created["id"], recycled.pk]
    assert page["items"][2]["handoff_reject_reason"] == "too_early" and page["next_after"] is None


def test_the_api_pages_a_sequences_enrolments_by_keyset(client, marketer, mail_template):
    sequence = sequence_make(template=mail_template)
    leads = Lead.objects.filter(pk__in=[mail_lead(f"k{i}@sample.example.jp").pk for i in range(52)])
    assert services.enrol_leads(sequence=sequence, leads=leads, source="manual") == 52
    api = Api(client, user=marketer)
    first = api("get", f"/sequences/{sequence.pk}/enrolments").json()
    assert len(first["items"]) == 50 and first["next_after"] == first["items"][-1]["id"]
    second = api("get", f"/sequences/{sequence.pk}/enrolments?after={first['next_after']}").json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert len(second["items"]) == 2 and second["next_after"] is None
    assert ids == sorted(Enrolment.objects.values_list("pk", flat=True), reverse=True)


def test_a_reps_key_reads_only_its_teams_enrolments(client, owner, outsider, mail_template):
    sequence = sequence_make(template=mail_template)
    mine, theirs = mail_lead("mine@sample.example.jp"), mail_lead("theirs@sample.example.jp")
    Lead.objects.filter(pk=mine.pk).update(owner=owner)
    Lead.objects.filter(pk=theirs.pk).update(owner=outsider)
    enrolments = [services.enrol_lead(sequence=sequence, lead=lead, by=None) for lead in (mine, theirs)]
    rep = Api(client, user=owner)
    listed = rep("get", f"/sequences/{sequence.pk}/enrolments").json()
    assert [e["lead_id"] for e in listed["items"]] == [mine.pk]
    assert rep("get", f"/enrolments/{enrolments[0].pk}").status_code == 200
    assert rep("get", f"/enrolments/{enrolments[1].pk}").status_code == 404
    assert rep("get", "/enrolments/999999").status_code == 404
    assert Api(client, scopes=["segments:read"])("get", f"/enrolments/{enrolments[0].pk}").status_code == 403


@pytest.mark.parametrize("n", [2, 3])
def test_the_api_lists_take_pinned_queries(
    client, marketer, owner, mail_template, n, django_assert_num_queries
):
    """The lists join what each enrolment shows (sequence, step, remover, handoff): a constant number of queries."""
    sequence = sequence_make(template=mail_template, on_reject_too_early=True)
    recycled = _rejected_enrolment(sequence, owner)
    for i in range(n):
        lead = mail_lead(f"p{i}@sample.example.jp")
        services.enrolment_exit(
            enrolment=services.enrol_lead(sequence=sequence, lead=lead, by=marketer), by=marketer
        )
        services.enrol_lead(sequence=sequence, lead=lead, by=marketer)  # back in: two rows for this lead
    api = Api(client, user=marketer)
    api("get", "/sequences")  # the key's first use records when (not again within the minute)
    # the key (with its user), the sequence, the page
    with django_assert_num_queries(3):
        page = api("get", f"/sequences/{sequence.pk}/enrolments").json()
    assert len(page["items"]) == 2 * n + 1
    # the key (with its user), the lead, its enrolments
    with django_assert_num_queries(3):
        listed = api("get", f"/leads/{lead.pk}/enrolments").json()
    assert [e["state"] for e in listed] == ["active", "exited"] and listed[1]["ended_by_id"] == marketer.pk
    with django_assert_num_queries(3):
        assert api("get", f"/leads/{recycled.lead_id}/enrolments").json()[0]["handoff_reject_reason"]
