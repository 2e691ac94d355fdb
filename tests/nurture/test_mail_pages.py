"""The email pages: who may use them, forms with syntax errors on their field, preview with a lead the viewer may
see, test send, a broadcast's life from the page, and pinned query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from nurture.models import Broadcast, BroadcastStatus, EmailTemplate, SenderProfile
from tests.nurture.factories import MailTemplateFactory
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead, mail_segment
from tests.salesmarketing.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_manager(client):
    user = UserFactory(
        username="mail-manager",
        role="manager",
        team=TeamFactory(name="マーケ課", kind="marketing"),
        email="manager@sample.example.jp",
    )
    client.force_login(user)
    return user


@pytest.fixture
def mail_marketer(client):
    user = UserFactory(username="mail-marketer", role="marketing", email="mkt@sample.example.jp")
    client.force_login(user)
    return user


def test_sales_reps_get_403_and_anonymous_visitors_the_login(client, owner):
    for name in ("nurture:mail_templates", "nurture:mail_broadcasts", "nurture:mail_sender"):
        assert client.get(reverse(name)).status_code == 302
    client.force_login(owner)
    for name in ("nurture:mail_templates", "nurture:mail_broadcasts", "nurture:mail_sender"):
        assert client.get(reverse(name)).status_code == 403


def test_a_marketer_sees_the_sender_profile_but_only_a_manager_edits_it(client, mail_marketer):
    page = client.get(reverse("nurture:mail_sender"))
    assert page.status_code == 200 and not page.context["can_edit"]
    assert client.post(reverse("nurture:mail_sender"), {"sender_name": "x"}).status_code == 403


def test_a_manager_saves_the_sender_profile(client, mail_manager):
    response = client.post(
        reverse("nurture:mail_sender"),
        {
            "sender_name": "株式会社サンプル",
            "from_email": "news@sample.example.jp",
            "postal_address": "東京都千代田区丸の内1-1-1",
            "complaints_contact": "https://sample.example.jp/contact",
        },
    )
    assert response.status_code == 302
    assert SenderProfile.objects.get().missing_fields() == []


def test_a_template_syntax_error_shows_next_to_its_field_with_the_line(client, mail_marketer):
    response = client.post(
        reverse("nurture:mail_template_new"),
        {"name": "壊れた", "subject_ja": "件名", "text_ja": "一行目\n{% include 'x.html' %}", "html_ja": ""},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["text_ja"] and "2" in errors["text_ja"][0] and "include" in errors["text_ja"][0]
    assert not EmailTemplate.objects.exists()


def test_create_a_template_then_preview_it_with_a_lead(client, mail_marketer, mail_profile):
    lead = mail_lead("yamada@example.jp", name="山田 <b>太郎</b>")
    response = client.post(
        reverse("nurture:mail_template_new"),
        {
            "name": "ご案内",
            "subject_ja": "{{ lead.name }}様",
            "html_ja": "<p>{{ lead.name }}様</p>",
            "text_ja": "本文",
        },
    )
    template = EmailTemplate.objects.get()
    assert response.status_code == 302

    preview = client.get(
        reverse("nurture:mail_template_preview", args=[template.pk]),
        {"lead": lead.pk},
        HTTP_HX_REQUEST="true",
    )

    content = preview.content.decode()
    assert preview.status_code == 200 and 'id="mail-preview"' in content and "<html" not in content
    assert "山田 &lt;b&gt;太郎&lt;/b&gt;様" in content  # the subject
    assert "&amp;lt;b&amp;gt;" in content  # the HTML part, escaped once by the template and once for srcdoc
    assert "株式会社サンプル" in content  # the footer


def test_a_sales_rep_cannot_preview_with_a_lead_of_another_team(client, mail_marketer, outsider):
    """Previews use leads the viewer may see: marketing sees every lead, so check with the visibility rule."""
    from nurture.mail.selectors import preview_lead

    other = mail_lead("other@example.jp")
    assert preview_lead(viewer=outsider, lead_id=other.pk) is None


def test_send_a_test_to_me(client, mail_marketer, mail_profile, smtp_sink):
    template = MailTemplateFactory()
    lead = mail_lead("preview@example.jp", name="試験")
    response = client.post(
        reverse("nurture:mail_template_test", args=[template.pk]), {"lead": lead.pk, "language": "ja"}
    )
    assert response.status_code == 302
    assert smtp_sink.recipients == [["mkt@sample.example.jp"]]


def test_broadcast_create_schedule_and_watch(client, mail_marketer, mail_profile, mail_campaign, smtp_sink,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    template = MailTemplateFactory()
    segment = mail_segment([mail_lead("r1@example.jp"), mail_lead("r2@example.jp", consent_email=False)])
    response = client.post(
        reverse("nurture:mail_broadcast_new"),
        {
            "name": "12月号",
            "template": template.pk,
            "segment": segment.pk,
            "campaign": mail_campaign.pk,
            "language": "ja",
        },
    )
    broadcast = Broadcast.objects.get()
    assert response.status_code == 302 and broadcast.status == BroadcastStatus.DRAFT
    assert broadcast.throttle_per_minute == 600

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("nurture:mail_broadcast_action", args=[broadcast.pk, "schedule"]), HTTP_HX_REQUEST="true"
        )
    progress = client.get(
        reverse("nurture:mail_broadcast_detail", args=[broadcast.pk]), HTTP_HX_REQUEST="true"
    )

    content = progress.content.decode()
    assert 'id="broadcast-progress"' in content and "<html" not in content
    assert 'data-count="total">2<' in content and 'data-count="sent">1<' in content
    assert 'data-count="skipped">1<' in content
    assert smtp_sink.recipients == [["r1@example.jp"]]


def test_a_refused_schedule_says_why(client, mail_marketer, mail_campaign):
    template = MailTemplateFactory()
    segment = mail_segment([mail_lead("r1@example.jp")])
    broadcast = Broadcast.objects.create(
        name="x", template=template, segment=segment, campaign=mail_campaign, throttle_per_minute=10
    )
    response = client.post(
        reverse("nurture:mail_broadcast_action", args=[broadcast.pk, "schedule"]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "送信者情報" in response.content.decode()
    assert Broadcast.objects.get().status == BroadcastStatus.DRAFT


def _lists(count: int, campaign) -> None:
    for i in range(count):
        template = MailTemplateFactory()
        Broadcast.objects.create(
            name=f"号 {i}",
            template=template,
            segment=mail_segment([], name=f"s{i}"),
            campaign=campaign,
            throttle_per_minute=10,
        )


@pytest.mark.parametrize("count", [2, 3])
def test_list_pages_take_the_same_queries_for_n_and_n_plus_1_rows(
    client, mail_marketer, mail_campaign, count, django_assert_num_queries
):
    _lists(count, mail_campaign)
    with django_assert_num_queries(QUERIES["templates"]):
        assert client.get(reverse("nurture:mail_templates")).status_code == 200
    with django_assert_num_queries(QUERIES["broadcasts"]):
        assert client.get(reverse("nurture:mail_broadcasts")).status_code == 200


def test_the_broadcast_page_takes_pinned_queries(
    client, mail_marketer, mail_campaign, django_assert_num_queries
):
    _lists(1, mail_campaign)
    broadcast = Broadcast.objects.get()
    with django_assert_num_queries(QUERIES["detail"]):
        assert client.get(reverse("nurture:mail_broadcast_detail", args=[broadcast.pk])).status_code == 200
    with django_assert_num_queries(QUERIES["progress"]):
        response = client.get(
            reverse("nurture:mail_broadcast_detail", args=[broadcast.pk]), HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200


# Session and the user with the layout's team and unread count (2), then the page's own.
QUERIES = {"templates": 3, "broadcasts": 3, "detail": 4, "progress": 4}
