"""Awareness stage (潜在層 / 準顕在層 / 顕在層) inferred from behaviour with editable rules (AwarenessRule).

A lead's stage is the highest stage of any active rule that its touches match at least `min_count` times;
潜在層 when none match. The stage only moves up by inference: a lead that compared solutions once stays 顕在層.
Set-based: one aggregate query per rule for the whole batch, then one UPDATE per stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Q

from leads.choices import AWARENESS_RANK, AwarenessStage
from leads.models import AwarenessRule, Lead, Touch

# Seeded on first migration of the demo and on `seed_demo`; marketers edit them in the admin / rules page.
DEFAULT_RULES = [  # (Japanese name, English name), stage, field, value, min_count
    (("料金ページ閲覧", "Pricing page viewed"), AwarenessStage.MANIFEST, AwarenessRule.Field.URL_CONTAINS, "/pricing", 1),
    (("料金ページ閲覧 (/price)", "Pricing page viewed (/price)"), AwarenessStage.MANIFEST, AwarenessRule.Field.URL_CONTAINS, "/price", 1),
    (("比較ページ閲覧", "Comparison page viewed"), AwarenessStage.MANIFEST, AwarenessRule.Field.URL_CONTAINS, "/compare", 1),
    (("デモ依頼", "Demo requested"), AwarenessStage.MANIFEST, AwarenessRule.Field.TOUCH_TYPE, "demo_request", 1),
    (("導入事例閲覧", "Case studies read"), AwarenessStage.SEMI, AwarenessRule.Field.URL_CONTAINS, "/case", 1),
    (("資料ダウンロード", "Content downloaded"), AwarenessStage.SEMI, AwarenessRule.Field.TOUCH_TYPE, "content_download", 1),
    (("ウェビナー参加", "Webinar attended"), AwarenessStage.SEMI, AwarenessRule.Field.TOUCH_TYPE, "webinar_attended", 1),
    (("セミナー参加", "Seminar attended"), AwarenessStage.SEMI, AwarenessRule.Field.TOUCH_TYPE, "seminar_attended", 1),
    (("再訪問 (5ページ以上)", "Repeat visitor (5+ pages)"), AwarenessStage.SEMI, AwarenessRule.Field.TOUCH_TYPE, "page_view", 5),
]  # fmt: skip


def ensure_default_rules() -> None:
    if AwarenessRule.objects.exists():
        return
    AwarenessRule.objects.bulk_create(
        AwarenessRule(name=name, name_en=name_en, stage=stage, field=field, value=value, min_count=min_count)
        for (name, name_en), stage, field, value, min_count in DEFAULT_RULES
    )


def _rule_condition(rule: AwarenessRule) -> Q:
    if rule.field == AwarenessRule.Field.TOUCH_TYPE:
        return Q(type=rule.value)
    if rule.field == AwarenessRule.Field.URL_CONTAINS:
        return Q(url__icontains=rule.value)
    return Q(utm_medium__iexact=rule.value)


def infer_awareness(lead_ids: Iterable[int] | None = None) -> int:
    """Raise the awareness stage of these leads (all when None) to what their touches show. Returns rows changed."""
    ids = None if lead_ids is None else list(lead_ids)
    if ids == []:
        return 0
    best: dict[int, str] = {}
    for rule in AwarenessRule.objects.filter(is_active=True).exclude(stage=AwarenessStage.LATENT):
        touches = Touch.objects.filter(_rule_condition(rule), lead__isnull=False)
        if ids is not None:
            touches = touches.filter(lead_id__in=ids)
        matched = touches.values("lead_id").annotate(n=Count("id")).filter(n__gte=rule.min_count)
        for lead_id in matched.values_list("lead_id", flat=True):
            if (
                AWARENESS_RANK[AwarenessStage(rule.stage)]
                > AWARENESS_RANK[AwarenessStage(best.get(lead_id, "latent"))]
            ):
                best[lead_id] = rule.stage
    changed = 0
    for stage in (AwarenessStage.SEMI, AwarenessStage.MANIFEST):
        stage_ids = [lead_id for lead_id, s in best.items() if s == stage]
        lower = [s for s, rank in AWARENESS_RANK.items() if rank < AWARENESS_RANK[stage]]
        for start in range(0, len(stage_ids), 5000):
            # Rows locked in id order first, as the scorer locks them: a plain UPDATE locks in whatever order
            # its plan reads, and could deadlock with a scorer holding some of the same leads.
            with transaction.atomic():
                locked = list(
                    Lead.objects.filter(pk__in=stage_ids[start : start + 5000], awareness_stage__in=lower)
                    .order_by("pk")
                    .select_for_update(no_key=True)
                    .values_list("pk", flat=True)
                )
                changed += Lead.objects.filter(pk__in=locked).update(awareness_stage=stage)
    return changed
