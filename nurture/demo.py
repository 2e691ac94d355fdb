"""Demo nurture data for `seed_demo` (runs after the leads' demo): a step sequence (ステップメール) for leads sales
rejected as too early, with the recycled leads that may be emailed enrolled in it. Idempotent: a second run adds
nothing. Nothing is sent here: the beat's run sends the steps as they fall due."""

from __future__ import annotations

from leads.models import Handoff, Lead
from nurture.models import EmailTemplate, EnrolmentSource, Sequence, SequenceStep
from nurture.sequences import services

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
