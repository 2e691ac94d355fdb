"""Email templates: the rendering sandbox, merge fields and escaping, syntax errors with their line, the legal
footer, List-Unsubscribe headers, tracking links, and a Japanese message as the SMTP server receives it."""

from __future__ import annotations

import email
import email.policy
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from leads.choices import TouchType
from leads.models import Lead
from leads.privacy import read_unsubscribe_token, unsubscribe_path
from leads.services import company_resolve
from nurture.mail import rendering, services
from nurture.models import SenderProfile
from tests.nurture.factories import MailTemplateFactory
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "source",
    [
        '{% include "base.html" %}',
        "{% load static %}",
        '{% url "dashboard" %}',
        "{% debug %}",
        '{% extends "base.html" %}',
        "{% csrf_token %}",
        "{% autoescape off %}{{ lead.name }}{% endautoescape %}",
        "{{ lead.name|safe }}",
        '{{ lead.name|ljust:"99999999" }}',
    ],
)
def test_the_sandbox_refuses_tags_and_filters_that_reach_outside_or_unescape(source):
    error = rendering.check_syntax("こんにちは\n" + source, html_part=True, field="html_ja")
    assert error is not None and error.line == 2 and error.field == "html_ja"


def test_a_syntax_error_is_shown_next_to_its_field_with_its_line():
    template = MailTemplateFactory.build(html_ja="<p>一行目</p>\n<p>二行目</p>\n{% if lead.name %}閉じ忘れ")
    with pytest.raises(ValidationError) as caught:
        services.email_template_save(template=template, by=None, name="壊れたテンプレート")
    assert list(caught.value.error_dict) == ["html_ja"]
    assert "3" in caught.value.error_dict["html_ja"][0].messages[0]


def test_the_template_sees_plain_values_only_html_escaped_text_not():
    owner = UserFactory(display_name="営業 一郎", email="ichiro@sample.example.jp")
    company = company_resolve(name="<株式会社 & 商事>")
    lead = mail_lead("taro@example.jp", name="<script>太郎</script>")
    Lead.objects.filter(pk=lead.pk).update(owner=owner, company=company)
    lead = Lead.objects.select_related("owner", "company").get(pk=lead.pk)
    context = rendering.merge_context(lead=lead, unsubscribe_url="https://crm.example.jp/u/x")
    template = MailTemplateFactory.build(
        subject_ja="{{ lead.name }}様",
        html_ja="<p>{{ lead.name }} / {{ lead.company }} / {{ owner.name }} / {{ lead.email }}</p>",
        text_ja="{{ lead.name }} / {{ lead.company }}\n{{ owner.signature }}",
    )

    parts = rendering.render_parts(template, language="ja", context=context)

    assert parts.subject == "<script>太郎</script>様"  # a header: not HTML
    assert "&lt;script&gt;太郎&lt;/script&gt;" in parts.html and "<script>" not in parts.html
    assert "&lt;株式会社 &amp; 商事&gt;" in parts.html and "営業 一郎" in parts.html
    assert parts.text.startswith("<script>太郎</script> / <株式会社 & 商事>")
    assert "営業 一郎\nichiro@sample.example.jp" in parts.text
    assert "taro@example.jp" not in parts.html  # only the fields offered
    assert all(isinstance(v, (dict, str)) for v in context.values())


def test_a_test_send_is_refused_without_the_sender_profile(smtp_sink, mail_template):
    SenderProfile.objects.create(pk=1, sender_name="株式会社サンプル", from_email="news@sample.example.jp")
    me = UserFactory(email="me@sample.example.jp")
    lead = mail_lead("hanako@example.jp", name="花子")

    with pytest.raises(ValidationError) as caught:
        services.email_test_send(template=mail_template, language="ja", lead=lead, to_user=me)

    assert caught.value.code == "sender_profile"
    assert "住所" in caught.value.messages[0] and "苦情・お問い合わせ先" in caught.value.messages[0]
    assert smtp_sink.messages == []


def _raw_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n") if b"\r\n" in raw else raw.split(b"\n")


def test_a_japanese_test_message_is_utf8_mime_with_footer_and_one_click_headers(
    smtp_sink, mail_profile, mail_template, settings
):
    settings.EMAIL_UNSUBSCRIBE_MAILTO = "unsubscribe@sample.example.jp"
    me = UserFactory(email="me@sample.example.jp")
    lead = mail_lead("hanako@example.jp", name="山田 花子")
    mail_template.html_ja += "<p>" + "長い行。" * 400 + "</p>"  # one line far beyond 998 octets
    mail_template.save()

    services.email_test_send(template=mail_template, language="ja", lead=lead, to_user=me)

    [raw] = smtp_sink.messages
    assert smtp_sink.recipients == [["me@sample.example.jp"]]  # a test goes to the sender, never to the lead
    assert all(len(line) <= 998 for line in _raw_lines(raw))
    headers = raw.split(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n", 1)[0].decode("ascii")  # 7-bit headers
    assert re.search(r"^Subject:\s+=\?utf-8\?[bq]\?", headers, re.MULTILINE | re.IGNORECASE)  # RFC 2047
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert (
        message["Subject"].strip() == "【テスト】山田 花子様へ 今月のお知らせ"
    )  # Django folds after "Subject:"
    assert message["From"].addresses[0].display_name == "株式会社サンプル マーケティング部"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    body = text.get_content()
    assert "山田 花子様" in body
    for legal in (
        "株式会社サンプル マーケティング部",
        "東京都千代田区丸の内1-1-1",
        "support@sample.example.jp",
    ):
        assert legal in body and legal in html.get_content()
    targets = re.fullmatch(
        r"\s*<(https://crm\.example\.jp/u/([^>]+))>, <(mailto:[^>]+)>", message["List-Unsubscribe"]
    )
    assert targets and targets.group(3) == "mailto:unsubscribe@sample.example.jp?subject=unsubscribe"
    one_click, token = targets.group(1), targets.group(2)
    assert read_unsubscribe_token(token) == lead.pk
    assert one_click in body and one_click in html.get_content()  # the footer's opt-out link
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/t/o/" not in html.get_content()  # a test send is not tracked


def test_the_one_click_post_unsubscribes_without_csrf_or_login(mail_profile):
    lead = mail_lead("oneclick@example.jp")
    client = Client(enforce_csrf_checks=True)
    url = unsubscribe_path(lead_id=lead.pk)

    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.unsubscribed_at is not None and lead.consent_email is False
    assert lead.touches.filter(type=TouchType.UNSUBSCRIBE).count() == 1
    assert client.post(url[:-3] + "xyz", {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert client.post(url).status_code == 403  # the page's own form still needs its CSRF token


def test_links_become_signed_click_links_and_an_open_pixel_is_added(mail_profile, mail_template, settings):
    settings.SITE_URL = "https://crm.example.jp"
    lead = mail_lead("click@example.jp", name="クリック")
    envelope = rendering.Envelope(
        lead=lead,
        message_id="<broadcast-1.lead-1@sample.example.jp>",
        tracking=rendering.Tracking(lead_id=lead.pk, message_id="b1-1", campaign_id=7),
    )

    message = rendering.build_message(mail_template, language="ja", profile=mail_profile, envelope=envelope)

    html = message.alternatives[0][0]
    hrefs = re.findall(r'href="([^"]+)"', html)
    click = [h for h in hrefs if "/t/c/" in h]
    assert len(click) == 1 and click[0].startswith("https://crm.example.jp/t/c/")
    target = parse_qs(urlsplit(click[0].replace("&amp;", "&")).query)["u"][0]
    assert target == "https://example.jp/seminar?id=1&x=2"
    unsubscribe = "https://crm.example.jp" + unsubscribe_path(lead_id=lead.pk)
    assert unsubscribe in hrefs  # the opt-out link is left as it is
    assert re.search(r'<img src="https://crm.example.jp/t/o/[^"]+\.gif"', html)
    assert message.extra_headers["Message-ID"] == "<broadcast-1.lead-1@sample.example.jp>"


def test_a_click_link_from_a_message_comes_back_as_a_touch_with_the_campaign(
    mail_profile, mail_template, mail_campaign, settings, client
):
    settings.SITE_URL = ""
    lead = mail_lead("touch@example.jp")
    envelope = rendering.Envelope(
        lead=lead,
        message_id="<m@x>",
        tracking=rendering.Tracking(lead_id=lead.pk, message_id="b9-1", campaign_id=mail_campaign.pk),
    )
    html = rendering.build_message(
        mail_template, language="ja", profile=mail_profile, envelope=envelope
    ).alternatives[0][0]
    click = next(h for h in re.findall(r'href="([^"]+)"', html) if "/t/c/" in h).replace("&amp;", "&")

    response = client.get(click)

    assert response.status_code == 302 and response["Location"] == "https://example.jp/seminar?id=1&x=2"
    assert lead.touches.filter(campaign=mail_campaign).exists()


def test_mail_pages_are_reversed():
    assert reverse("nurture:mail_templates") == "/nurture/mail/templates/"
