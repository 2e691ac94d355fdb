"""Nurture test data: segments' factories and helpers for leads' touches and scores; mail's prefixed Mail…/mail_…."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.utils import timezone

from leads.models import Lead, Touch
from leads.services import touch_record
from nurture.models import EmailTemplate, Segment, SegmentKind, SegmentMember, SenderProfile
from tests.leads.factories import make_lead

_seq = itertools.count(1)


class SegmentFactory(factory.django.DjangoModelFactory):
    """A dynamic segment; pass `rules` (checked ones: the services are tested on their own)."""

    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"セグメント {n}")
    kind = SegmentKind.DYNAMIC
    rules = factory.LazyFunction(lambda: {"op": "and", "rules": []})


class SegmentStaticFactory(SegmentFactory):
    kind = SegmentKind.STATIC
    rules = factory.LazyFunction(dict)


class SegmentMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentMember

    segment = factory.SubFactory(SegmentStaticFactory)


def segment_touch(
    lead: Lead, *, type: str = "page_view", days_ago: float = 1, campaign=None, url: str = ""
) -> Touch:
    """A touch of `lead` some days ago (through touch_record; the campaign set as capture sets it)."""
    touch, _created = touch_record(
        lead=lead,
        type=type,
        source="test",
        idempotency_key=f"seg-{next(_seq)}",
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        url=url,
    )
    if campaign is not None:
        Touch.objects.filter(pk=touch.pk).update(campaign=campaign)
    return touch


def segment_scores(lead: Lead, *, fit: int = 0, engagement: int = 0) -> Lead:
    """Scores as the scorer writes them (leads.scoring keeps them on the row)."""
    Lead.objects.filter(pk=lead.pk).update(
        fit_score=fit, engagement_score=engagement, total_score=fit + engagement
    )
    lead.refresh_from_db()
    return lead


def segment_lead(*, owner=None, company=None, email: str | None = None, **fields) -> Lead:
    """A lead made through the upsert service, then given the fields capture does not set (stages, source, name
    as the test wants it) the way scoring and the lead form write them: an update of the row."""
    lead = make_lead(owner=owner, company=company, email=email)
    if fields:
        Lead.objects.filter(pk=lead.pk).update(**fields)
        lead.refresh_from_db()
    return lead


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


# --- Sequences (prefixed Sequence…/sequence_…) ----------------------------------------------------------------


def sequence_make(*, steps: int = 2, wait_days: int = 1, send_hour: int = 10, template=None, **fields):
    """A sequence with `steps` steps of the same template, each `wait_days` business days after the previous."""
    from nurture.models import Sequence, SequenceStep

    sequence = Sequence.objects.create(name=fields.pop("name", f"ステップメール {next(_seq)}"), **fields)
    template = template or MailTemplateFactory()
    for position in range(1, steps + 1):
        SequenceStep.objects.create(
            sequence=sequence, position=position, template=template, wait_days=wait_days, send_hour=send_hour
        )
    return sequence
