"""Demo nurture data for `seed_demo` (runs after the leads' demo):

- the sender profile (the legal footer every marketing message carries);
- this month's newsletter (月刊ニュースレター), sent to the subscribers' segment for the demo's newsletter campaign
  through the production path (the ledger frozen, each row handed over and sent; seed_demo's mail goes nowhere),
  then opened by about half of its recipients and clicked by a fifth, recorded as the open pixel and the signed
  click links record them, so the broadcast's page, the campaign and the leads' scores show them;
- a step sequence (ステップメール) for leads sales rejected as too early, with the recycled leads that may be
  emailed enrolled in it. Nothing of it is sent here: the beat's run sends the steps as they fall due.

Idempotent: a second run adds nothing."""

from __future__ import annotations

import random

from django.utils import timezone

from leads.awareness import infer_awareness
from leads.capture.services import email_click_record, email_open_record
from leads.handoffs import handoff_assign
from leads.models import Campaign, Handoff, Lead
from leads.scoring.services import leads_score_and_qualify
from leads.tracking import CLICK_SALT, OPEN_SALT, email_click_token, email_open_token, read_token
from nurture.mail import sending
from nurture.mail import services as mail_services
from nurture.mail.selectors import sender_profile
from nurture.models import (
    Broadcast,
    BroadcastSend,
    BroadcastStatus,
    EmailTemplate,
    EnrolmentSource,
    Segment,
    SegmentKind,
    SegmentMember,
    SendStatus,
    Sequence,
    SequenceStep,
)
from nurture.sequences import services

NEWSLETTER = "月刊ニュースレター 12月号"
NEWSLETTER_CAMPAIGN = "月刊ニュースレター"  # campaigns/demo.py
SUBSCRIBERS = "ニュースレター購読者"
NEWSLETTER_LINK = "https://example.jp/seminar/dx-2026"

SEQUENCE_NAME = "差し戻しリードの育成 (時期尚早)"
STEPS = [
    # template name, subject, text, wait in business days, hour
    (
        "育成1: 導入事例",
        "{{ lead.company }} {{ lead.name }}様 同業他社の導入事例をお届けします",
        "{{ lead.name }}様\n\n先日はお問い合わせありがとうございました。\n"
        "同じ業界の導入事例をまとめました: https://example.jp/cases\n\n{{ owner.signature }}",
        1,
        10,
    ),
    (
        "育成2: 残業削減ウェビナー",
        "【ご案内】残業時間を減らした3社の取り組み (無料ウェビナー)",
        "{{ lead.name }}様\n\n来月のウェビナーのご案内です: https://example.jp/webinar\n",
        5,
        10,
    ),
    (
        "育成3: 料金シミュレーション",
        "{{ lead.company }}様向け 料金の目安",
        "{{ lead.name }}様\n\n人数に合わせた料金の目安はこちら: https://example.jp/pricing\n",
        10,
        14,
    ),
]


def seed(*, users, stdout) -> None:
    _seed_newsletter(users=users, stdout=stdout)
    if Sequence.objects.filter(name=SEQUENCE_NAME).exists():
        return
    sequence = services.sequence_save(
        by=users.get("mktg"),
        name=SEQUENCE_NAME,
        language="ja",
        on_reject_too_early=True,
    )
    for position, (name, subject, text, wait, hour) in enumerate(STEPS, start=1):
        template, _created = EmailTemplate.objects.get_or_create(
            name=name, defaults={"subject_ja": subject, "text_ja": text}
        )
        SequenceStep.objects.create(
            sequence=sequence, position=position, template=template, wait_days=wait, send_hour=hour
        )
    rejected = Handoff.objects.filter(
        state=Handoff.State.REJECTED, reject_reason=Handoff.RejectReason.TOO_EARLY
    ).values("lead_id")
    enrolled = services.enrol_leads(
        sequence=sequence,
        leads=Lead.objects.filter(pk__in=rejected),
        source=EnrolmentSource.HANDOFF_REJECTED,
    )
    stdout.write(f"Nurture: a step sequence with {len(STEPS)} steps and {enrolled} recycled leads enrolled.")


def _seed_newsletter(*, users, stdout) -> None:
    campaign = Campaign.objects.filter(name=NEWSLETTER_CAMPAIGN).first()
    if campaign is None or Broadcast.objects.filter(name=NEWSLETTER).exists():
        return
    mktg = users.get("mktg")
    if sender_profile().missing_fields():
        mail_services.sender_profile_update(
            by=mktg,
            sender_name="デモ株式会社 マーケティング部",
            from_email="news@demo.example.jp",
            postal_address="〒100-0005 東京都千代田区丸の内1-1-1",
            complaints_contact="privacy@demo.example.jp / 03-1234-5678",
        )
    segment = Segment.objects.create(name=SUBSCRIBERS, kind=SegmentKind.STATIC, created_by=mktg)
    SegmentMember.objects.bulk_create(
        SegmentMember(segment=segment, lead_id=pk)
        for pk in Lead.objects.emailable().values_list("pk", flat=True)
    )
    template = mail_services.email_template_save(
        by=mktg,
        name=NEWSLETTER,
        subject_ja="【月刊ニュースレター】{{ lead.name }}様 12月号: 製造業DXセミナーのご案内",
        text_ja="{{ lead.name }}様\n\nいつもお世話になっております。\n今月は製造業向けDXセミナーのご案内です。\n"
        f"お申し込み: {NEWSLETTER_LINK}\n\n{{{{ owner.signature }}}}",
        html_ja="<p>{{ lead.name }}様</p><p>いつもお世話になっております。<br>今月は製造業向けDXセミナーのご案内です。</p>"
        f'<p><a href="{NEWSLETTER_LINK}">お申し込みはこちら</a></p>',
        subject_en="[Monthly newsletter] December: a DX seminar for manufacturers",
        text_en=f"Dear {{{{ lead.name }}}},\n\nThis month: a DX seminar for manufacturers.\nSign up: {NEWSLETTER_LINK}\n",
    )
    broadcast = mail_services.broadcast_create(
        by=mktg,
        name=NEWSLETTER,
        template=template,
        segment=segment,
        campaign=campaign,
        throttle_per_minute=60_000,  # one batch
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=broadcast.created_at
    )
    sending.broadcast_start(broadcast_id=broadcast.pk)
    while sending.broadcast_send_batch(broadcast_id=broadcast.pk).more:
        Broadcast.objects.filter(pk=broadcast.pk).update(batch_started_at=None)
    sent = list(
        BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).values_list(
            "lead_id", flat=True
        )
    )
    rng = random.Random(12)  # noqa: S311 (demo data)
    opened = [lead_id for lead_id in sent if rng.random() < 0.5]
    for lead_id in opened:  # as the open pixel and the click link record them
        message = f"b{broadcast.pk}-{lead_id}"
        token = email_open_token(lead_id=lead_id, message_id=message, campaign_id=campaign.pk)
        email_open_record(token=read_token(token, salt=OPEN_SALT))
        if rng.random() < 0.4:
            token = email_click_token(
                lead_id=lead_id, url=NEWSLETTER_LINK, message_id=message, campaign_id=campaign.pk
            )
            email_click_record(token=read_token(token, salt=CLICK_SALT), url=NEWSLETTER_LINK)
    # What the worker does for touched leads (awareness, scores, MQL handoffs assigned), now rather than after the
    # seeding transaction commits, so that the campaigns' attribution after this sees it.
    infer_awareness(opened)
    leads_score_and_qualify(opened, now=timezone.now())
    unassigned = Handoff.objects.filter(lead_id__in=opened, state=Handoff.State.UNASSIGNED)
    for handoff_id in unassigned.values_list("id", flat=True):
        handoff_assign(handoff_id=handoff_id)
    stdout.write(f"Nurture: the newsletter sent to {len(sent)} subscribers, opened by {len(opened)}.")
