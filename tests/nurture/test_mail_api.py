"""Email templates and broadcasts over the API (nurture.mail.api): create, read, change, schedule, pause,
cancel; a template's syntax error as 422 with its field and line; refused transitions as 409; scopes and roles;
the broadcast's progress and outcomes as its page shows them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from nurture.mail import sending
from nurture.models import Broadcast, BroadcastStatus
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead, mail_segment
from tests.nurture.test_segments_api import Api

pytestmark = pytest.mark.django_db
TEMPLATE = {
    "name": "月刊 12月号",
    "subject_ja": "{{ lead.name }}様へ 12月のお知らせ",
    "text_ja": "本文です。",
}


def test_templates_are_created_read_and_changed(client, marketer):
    api = Api(client, user=marketer)
    created = api("post", "/email-templates", TEMPLATE)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api("get", f"/email-templates/{pk}").json()["subject_ja"] == TEMPLATE["subject_ja"]
    assert [t["id"] for t in api("get", "/email-templates").json()] == [pk]
    patched = api("patch", f"/email-templates/{pk}", {"text_ja": "新しい本文"})
    assert patched.status_code == 200 and patched.json()["text_ja"] == "新しい本文"
    assert patched.json()["name"] == TEMPLATE["name"]


def test_a_template_syntax_error_names_its_field_and_line(client, marketer):
    broken = {**TEMPLATE, "text_ja": "一行目\n{% if lead.name %}閉じ忘れ"}
    response = Api(client, user=marketer)("post", "/email-templates", broken)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "payload", "text_ja"] and "2" in error["msg"]


def test_a_broadcast_is_created_scheduled_and_reports_its_progress(
    client, marketer, smtp_sink, mail_profile, mail_template, mail_campaign
):
    api = Api(client, user=marketer)
    segment = mail_segment([mail_lead("r1@example.jp"), mail_lead("r2@example.jp")])
    body = {
        "name": "12月号",
        "template_id": mail_template.pk,
        "segment_id": segment.pk,
        "campaign_id": mail_campaign.pk,
        "throttle_per_minute": 100,
    }
    created = api("post", "/broadcasts", body)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["progress"]["total"] == 0
    assert api("post", f"/broadcasts/{pk}/pause").status_code == 409  # only a sending broadcast pauses
    when = timezone.now() - dt.timedelta(minutes=1)
    scheduled = api("post", f"/broadcasts/{pk}/schedule", {"scheduled_at": when.isoformat()})
    assert scheduled.status_code == 200 and scheduled.json()["status"] in ("scheduled", "sending", "done")
    sending.broadcast_start(broadcast_id=pk)
    sending.broadcast_send_batch(broadcast_id=pk)
    read = api("get", f"/broadcasts/{pk}").json()
    assert read["progress"]["sent"] == 2 and read["outcomes"]["delivered"] == 2
    assert read["status"] == BroadcastStatus.DONE
    assert api("post", f"/broadcasts/{pk}/cancel").status_code == 409  # done is done


def test_cancel_and_unknown_actions(client, marketer, mail_template, mail_campaign):
    api = Api(client, user=marketer)
    broadcast = Broadcast.objects.create(
        name="1月号",
        template=mail_template,
        segment=mail_segment([]),
        campaign=mail_campaign,
        throttle_per_minute=10,
    )
    assert api("post", f"/broadcasts/{broadcast.pk}/explode").status_code == 404
    assert api("post", f"/broadcasts/{broadcast.pk}/cancel").json()["status"] == "cancelled"


def test_scopes_and_roles(client, owner, marketer, mail_template):
    assert (
        Api(client, scopes=["segments:read"], user=marketer)("post", "/email-templates", TEMPLATE).status_code
        == 403
    )
    assert Api(client, scopes=["leads:read"], user=marketer)("get", "/email-templates").status_code == 403
    rep = Api(client, user=owner)  # sales reps do not manage marketing email
    assert rep("get", "/broadcasts").status_code == 403
    assert rep("post", "/email-templates", TEMPLATE).status_code == 403
    assert Api(client)("get", f"/email-templates/{mail_template.pk}").status_code == 200  # an integration key
