"""Awareness stage inferred from behaviour with editable rules."""

import pytest
from django.utils import timezone

from leads.awareness import ensure_default_rules, infer_awareness
from leads.choices import AwarenessStage, TouchType
from leads.models import AwarenessRule, Lead, Touch
from leads.services import lead_upsert

pytestmark = pytest.mark.django_db


def _touch(lead, kind, url="", key=None):
    return Touch.objects.create(
        lead=lead,
        type=kind,
        url=url,
        occurred_at=timezone.now(),
        source="t",
        idempotency_key=key or f"{lead.pk}-{kind}-{url}",
    )


def test_pricing_page_makes_a_lead_manifest_and_a_download_semi():
    ensure_default_rules()
    pricing, _ = lead_upsert(email="pricing@example.jp", source="api")
    reader, _ = lead_upsert(email="reader@example.jp", source="api")
    cold, _ = lead_upsert(email="cold@example.jp", source="api")
    _touch(pricing, TouchType.PAGE_VIEW, "https://www.example.jp/pricing?x=1")
    _touch(reader, TouchType.CONTENT_DOWNLOAD)
    _touch(cold, TouchType.PAGE_VIEW, "https://www.example.jp/")

    assert infer_awareness([pricing.pk, reader.pk, cold.pk]) == 2
    stages = dict(Lead.objects.values_list("email", "awareness_stage"))
    assert stages == {
        "pricing@example.jp": AwarenessStage.MANIFEST,
        "reader@example.jp": AwarenessStage.SEMI,
        "cold@example.jp": AwarenessStage.LATENT,
    }
    assert infer_awareness([pricing.pk, reader.pk, cold.pk]) == 0  # idempotent


def test_min_count_and_inactive_rules_and_no_downgrade():
    AwarenessRule.objects.create(name="3 blog posts", stage="semi", field="url", value="/blog/", min_count=3)
    AwarenessRule.objects.create(
        name="off", stage="manifest", field="type", value="page_view", is_active=False
    )
    lead, _ = lead_upsert(email="blog@example.jp", source="api")
    for i in range(2):
        _touch(lead, TouchType.PAGE_VIEW, f"https://x.jp/blog/{i}")
    infer_awareness([lead.pk])
    lead.refresh_from_db()
    assert lead.awareness_stage == AwarenessStage.LATENT
    _touch(lead, TouchType.PAGE_VIEW, "https://x.jp/blog/3")
    infer_awareness([lead.pk])
    lead.refresh_from_db()
    assert lead.awareness_stage == AwarenessStage.SEMI
    Lead.objects.filter(pk=lead.pk).update(awareness_stage=AwarenessStage.MANIFEST)
    infer_awareness()
    lead.refresh_from_db()
    assert lead.awareness_stage == AwarenessStage.MANIFEST  # inference never lowers a stage
