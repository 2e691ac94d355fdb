"""Factories for nurture's tests (segments' and mail's; mail's are prefixed Mail…/mail_…)."""

from __future__ import annotations

import factory

from nurture.models import EmailTemplate, SenderProfile

# --- Mail ------------------------------------------------------------------------------------------------------


class MailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    name = factory.Sequence(lambda n: f"月刊ニュースレター {n}")
    subject_ja = "{{ lead.company }} {{ lead.name }}様へ 今月のお知らせ"
    html_ja = (
        "<html><body><p>{{ lead.name }}様</p>"
        '<p><a href="https://example.jp/seminar?id=1&amp;x=2">セミナーのご案内</a></p>'
        "<p>{{ owner.name }}</p></body></html>"
    )
    text_ja = "{{ lead.name }}様\n\nセミナーのご案内: https://example.jp/seminar\n\n{{ owner.signature }}"
    subject_en = "News for {{ lead.name }}"
    html_en = ""
    text_en = "Dear {{ lead.name }},\n\nOur seminar: https://example.jp/seminar"


def mail_sender_profile(**fields) -> SenderProfile:
    values = {
        "sender_name": "株式会社サンプル マーケティング部",
        "from_email": "news@sample.example.jp",
        "postal_address": "東京都千代田区丸の内1-1-1",
        "complaints_contact": "support@sample.example.jp",
        **fields,
    }
    profile, _created = SenderProfile.objects.update_or_create(pk=1, defaults=values)
    return profile
