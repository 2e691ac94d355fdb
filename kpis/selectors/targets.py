"""The targets page: the targets in force for each KPI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpis.periods import KINDS, Period
from kpis.registry import KPI_BY_KEY, Kpi
from kpis.services import targets_in_force
from salesmarketing.models import Team

# --- targets page -------------------------------------------------------------------------------------------


@dataclass
class TargetRow:
    kpi: Kpi
    targets: dict[str, float | None]  # period kind → target in force now


def target_rows(*, team: Team | None, today: dt.date) -> list[TargetRow]:
    """Each KPI that can have a target, with the week, month and quarter targets in force today (1 query)."""
    on = {kind: Period.of(kind, today).start for kind in KINDS}
    in_force = targets_in_force(team_id=team.pk if team else None, on=on)
    return [
        TargetRow(kpi=kpi, targets={kind: in_force[kind].get(kpi.key) for kind in KINDS})
        for kpi in KPI_BY_KEY.values()
        if not kpi.manual and not kpi.auxiliary and (kpi.team_scoped or team is None)
    ]
