from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When

from leads.models import (
    AwarenessRule,
    Lead,
    ScoringConfig,
    ScoringGroup,
    ScoringKind,
    ScoringRule,
    TerritoryRule,
)
from salesmarketing import hooks
from salesmarketing.models import Team

BANDS = [(None, 20), (20, 40), (40, 60), (60, 80), (80, None)]


def scoring_overview() -> dict:
    rules = list(ScoringRule.objects.select_related("group"))
    groups = list(ScoringGroup.objects.all())
    by_axis = []
    for kind, label in ScoringKind.choices:
        axis_groups = []
        for group in [g for g in groups if g.kind == kind] + [None]:
            members = [r for r in rules if r.kind == kind and r.group_id == (group.pk if group else None)]
            if members or group is not None:
                axis_groups.append({"group": group, "rules": members})
        by_axis.append({"kind": kind, "label": label, "groups": axis_groups})
    return {
        "axes": by_axis,
        "config": ScoringConfig.get(),
        "awareness_rules": list(AwarenessRule.objects.all()),
        "territories": list(TerritoryRule.objects.select_related("team")),
        "teams": list(Team.objects.filter(kind=Team.Kind.SALES).select_related("manager")),
    }


def calibration() -> list[dict]:
    """Leads per score band and how many became a deal and a won deal: does a higher score mean more sales?"""
    band = Case(
        *[
            When(Q(total_score__gte=lo) if hi is None else (Q(total_score__lt=hi) if lo is None else Q(total_score__gte=lo, total_score__lt=hi)), then=Value(i))
            for i, (lo, hi) in enumerate(BANDS)
        ],
        output_field=IntegerField(),
    )  # fmt: skip
    qs = Lead.objects.annotate(band=band)
    annotations = {"leads": Count("id"), "mqls": Count("id", filter=Q(mql_at__isnull=False))}
    # pipeline builds on leads, so it hands its deals over through the DEALS hook (salesmarketing.hooks).
    for deals in hooks.call(hooks.DEALS):
        qs = qs.annotate(
            has_deal=Exists(deals.filter(contact=OuterRef("pk"))),
            has_won=Exists(deals.filter(contact=OuterRef("pk"), status="won")),
        )
        annotations |= {
            "deals": Count("id", filter=Q(has_deal=True)),
            "won": Count("id", filter=Q(has_won=True)),
        }
    rows: dict[int, Mapping[str, Any]] = {
        row["band"]: row for row in qs.values("band").annotate(**annotations)
    }
    table = []
    for i, (lo, hi) in enumerate(BANDS):
        row: Mapping[str, Any] = rows.get(i, {})
        leads = row.get("leads", 0)
        table.append(
            {
                "label": f"{lo if lo is not None else '…'}–{hi - 1 if hi is not None else '…'}",
                "leads": leads,
                "mqls": row.get("mqls", 0),
                "deals": row.get("deals", 0),
                "won": row.get("won", 0),
                "deal_rate": row.get("deals", 0) / leads if leads else None,
                "won_rate": row.get("won", 0) / leads if leads else None,
            }
        )
    return table
