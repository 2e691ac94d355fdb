"""The shared KPI dashboard: every KPI for a period with its target, pacing, change and trend."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kpis.models import WeeklySnapshot
from kpis.periods import KINDS, WEEK, Period
from kpis.registry import HEADLINE, Kpi, Number, OwnerTeam, Scope, by_owner, compute
from kpis.selectors.figures import Figure, FunnelStep, funnel
from kpis.services import targets_in_force
from salesmarketing.models import Team
from salesmarketing.replica import reads_from_replica

TREND_PERIODS = 8


# --- the shared dashboard -----------------------------------------------------------------------------------


@dataclass
class Dashboard:
    period: Period
    team: Team | None
    teams: list[Team]
    cards: list[Figure]
    sections: list[tuple[str, list[Figure]]]  # (owner team, figures) for the tables below the cards
    funnel: list[FunnelStep]
    kinds: tuple[str, ...] = KINDS

    @property
    def scope_query(self) -> str:
        return f"&team={self.team.pk}" if self.team else ""


@reads_from_replica()
def dashboard(
    *, period: Period, team: Team | None, teams: list[Team], now: dt.datetime | None = None
) -> Dashboard:
    """Every KPI for the period with target, pacing and change, and an eight-period trend for the cards
    (engine: 2 statements, cached or not; targets: 1; for a week, last week's snapshot: 1)."""
    now = now or timezone.now()
    periods = period.trailing(TREND_PERIODS)
    scope = Scope(team_id=team.pk if team else None)
    series = compute(periods, scope=scope, now=now)
    current = series[-1]
    # last week as its meeting saw it, when it was frozen
    previous = (_frozen_week(period.previous(), team) if period.kind == WEEK else None) or series[-2]
    targets = targets_in_force(team_id=team.pk if team else None, on={period.kind: period.start})[period.kind]
    share = period.elapsed_share(now)
    labels = [p.label for p in periods]

    def figure(kpi: Kpi) -> Figure:
        return Figure(
            kpi=kpi,
            value=current[kpi.key],
            previous=previous[kpi.key],
            target=targets.get(kpi.key),
            share_elapsed=share,
            trend=[values[kpi.key] for values in series] if kpi.headline else [],
            trend_labels=labels if kpi.headline else [],
        )

    sections = [
        (owner, [figure(kpi) for kpi in by_owner(owner)])
        for owner in (OwnerTeam.SHARED, OwnerTeam.MARKETING, OwnerTeam.SALES)
    ]
    return Dashboard(
        period=period,
        team=team,
        teams=teams,
        cards=[figure(kpi) for kpi in HEADLINE],
        sections=[(owner, figures) for owner, figures in sections if figures],
        funnel=funnel(current, team_selected=team is not None),
    )


def dashboards_refresh(now: dt.datetime | None = None) -> int:
    """Fill the cache with what every dashboard's trend keeps there: its closed periods and the days before
    today of the running one, for each period kind, for everyone and for each team; only what a write changed
    since (or what expired) is computed again. Returns how many trends were refreshed."""
    now = now or timezone.now()
    scopes = [Scope(), *(Scope(team_id=pk) for pk in Team.objects.values_list("pk", flat=True))]
    # Every kind's trend in one call of the engine per scope: the same two statements as one trend.
    periods = [period for kind in KINDS for period in Period.current(kind, now).trailing(TREND_PERIODS)]
    for scope in scopes:
        compute(periods, scope=scope, now=now)
    return len(KINDS) * len(scopes)


def _frozen_week(week: Period, team: Team | None) -> dict[str, Number] | None:
    snapshot = WeeklySnapshot.objects.filter(week_start=week.start, team=team).only("values").first()
    return snapshot.values if snapshot is not None else None
