"""The KPI registry: every number defined once (kpis.registry.definitions), computed by one engine.

from kpis.registry import KPIS, get_kpi, compute
values = compute([Period.parse("2026-W47")], scope=Scope(team_id=3))[0]
week, month = evaluate([Ask(week), Ask(month_to_date, kpis=HEADLINE)], scope=Scope())  # each its own KPIs
"""

from __future__ import annotations

from kpis.registry.base import Direction, Kpi, Number, OwnerTeam, Unit, definitions_hash
from kpis.registry.definitions import KPIS
from kpis.registry.engine import Ask, compute, compute_one, evaluate
from kpis.registry.measures import Scope

KPI_BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in KPIS}
HEADLINE: tuple[Kpi, ...] = tuple(kpi for kpi in KPIS if kpi.headline)
VERSIONS: dict[str, int] = {kpi.key: kpi.version for kpi in KPIS}
DEFINITIONS_HASH: str = definitions_hash(KPIS)
# The funnel: visitors → leads → MQLs → SQLs → deals (商談化) → won, each a KPI key.
FUNNEL: tuple[str, ...] = (
    "visitors",
    "leads_acquired",
    "mqls",
    "sqls",
    "opportunities_marketing_sourced",
    "deals_won_marketing",
)

assert len(KPI_BY_KEY) == len(KPIS), "two KPIs share a key"


def get_kpi(key: str) -> Kpi | None:
    return KPI_BY_KEY.get(key)


def by_owner(owner: str, *, include_headline: bool = False) -> list[Kpi]:
    """The non-helper KPIs a team owns (the ones not already shown as headline cards, unless asked)."""
    return [
        kpi
        for kpi in KPIS
        if kpi.owner == owner and not kpi.auxiliary and (include_headline or not kpi.headline)
    ]


__all__ = [
    "Ask",
    "DEFINITIONS_HASH",
    "FUNNEL",
    "HEADLINE",
    "KPIS",
    "KPI_BY_KEY",
    "VERSIONS",
    "Direction",
    "Kpi",
    "Number",
    "OwnerTeam",
    "Scope",
    "Unit",
    "by_owner",
    "compute",
    "compute_one",
    "evaluate",
    "get_kpi",
]
