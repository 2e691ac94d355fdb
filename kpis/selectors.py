"""Page-level reads: the shared dashboard, a KPI's drill-down, and the targets page.

Each selector returns what one page shows in a fixed number of queries, whatever the amount of data: the KPI
engine's one aggregate per table, one query for targets, one per list. The weekly review lives in
kpis.review.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet, Value
from django.utils import timezone
from markdown_it import MarkdownIt

from kpis.models import WeeklySnapshot
from kpis.periods import KINDS, WEEK, Period
from kpis.registry import FUNNEL, HEADLINE, KPI_BY_KEY, Kpi, Number, OwnerTeam, Scope, by_owner, compute
from kpis.registry.drilldowns import DEALS, DRILLDOWNS, HANDOFFS, LEADS
from kpis.services import targets_in_force
from leads.models import Lead
from pipeline.models import Deal
from salesmarketing.models import Team, User
from salesmarketing.replica import reads_from_replica

TREND_PERIODS = 8
DRILLDOWN_PAGE_SIZE = 50


# --- one KPI's figures ------------------------------------------------------------------------------------


@dataclass
class Figure:
    """A KPI's value in a period with everything a card or a table row says about it."""

    kpi: Kpi
    value: Number
    previous: Number = None
    target: float | None = None
    share_elapsed: float = 1.0  # of the period, for pacing
    trend: list[Number] = field(default_factory=list)
    trend_labels: list[str] = field(default_factory=list)
    changed_since: bool = False  # the definition changed after this value was frozen

    @property
    def key(self) -> str:
        return self.kpi.key

    @property
    def expected(self) -> float | None:
        """Where a count or sum should be by now: target × elapsed share of the period."""
        if self.target is None or not self.kpi.additive:
            return None
        return self.target * self.share_elapsed

    @property
    def is_paced(self) -> bool:
        return self.expected is not None and self.share_elapsed < 1.0

    @property
    def progress(self) -> float | None:
        """Share of the target reached, for a progress bar. For "lower is better" the bar is full at or below the
        target and shrinks as the value goes over it (target ÷ value); no percentage is shown for it (a share of
        a ceiling reads backwards), only whether it is on track."""
        if self.target is None or self.value is None:
            return None
        if self.kpi.direction == "down":
            if self.value <= self.target:
                return 1.0
            return self.target / self.value
        return None if not self.target else self.value / self.target

    @property
    def progress_percent(self) -> float | None:
        return None if self.progress is None else max(0.0, min(100.0, self.progress * 100))

    @property
    def pace_percent(self) -> float | None:
        """Where the pacing mark sits on the progress bar (higher is better only: a ceiling is not reached
        step by step, so its bar has no mark)."""
        if not self.is_paced or not self.target or self.kpi.direction == "down":
            return None
        return max(0.0, min(100.0, self.share_elapsed * 100))

    @property
    def on_track(self) -> bool | None:
        """Against the pace (counts and sums) or the target (ratios, medians); None without a target."""
        reference = self.expected if self.expected is not None else self.target
        if reference is None or self.value is None or self.kpi.direction == "neutral":
            return None
        return self.value >= reference if self.kpi.direction == "up" else self.value <= reference

    @property
    def change(self) -> float | None:
        """Versus the previous period: points for percentages, a relative change otherwise."""
        if self.value is None or self.previous is None:
            return None
        if self.kpi.is_ratio:
            return self.value - self.previous
        if not self.previous:
            return None
        return (self.value - self.previous) / abs(self.previous)

    @property
    def change_is_good(self) -> bool | None:
        return self.kpi.is_good(self.value, self.previous)

    @property
    def trend_chart(self) -> dict:
        """A sparkline for includes/chart.html (Chart.js config)."""
        data = [None if v is None else (v * 100 if self.kpi.is_ratio else v) for v in self.trend]
        return {
            "type": "line",
            "data": {
                "labels": self.trend_labels,
                "datasets": [
                    {
                        "data": data,
                        "color": "#1d4ed8",
                        "fill": True,
                        "borderWidth": 2,
                        "pointRadius": 0,
                        "pointHoverRadius": 3,
                        "tension": 0.3,
                        "spanGaps": True,
                    }
                ],
            },
            "options": {
                "animation": False,
                "plugins": {"legend": {"display": False}, "tooltip": {"displayColors": False}},
                "scales": {"x": {"display": False}, "y": {"display": False, "beginAtZero": True}},
                "layout": {"padding": 2},
            },
        }


@dataclass
class FunnelStep:
    kpi: Kpi
    value: Number
    conversion: float | None  # this step's count over the step before's, when it is at most 100 %
    width: float  # bar width in percent of the first step
    exceeds: bool = False  # more in this step than in the step before in the period


def funnel(values: dict[str, Number], *, team_selected: bool = False) -> list[FunnelStep]:
    """The funnel's steps with the ratio between neighbours. The steps are counts of the same period, not a
    cohort (the deals of a week come partly from earlier weeks' handoffs), so a step may count more than the one
    before it: then no percentage is given (a "175 % conversion" reads as nonsense) and `exceeds` says why. With
    a team selected, no ratio is given from a company-wide step (visitors) into a team's own one."""
    steps: list[FunnelStep] = []
    widest = max((values.get(key) or 0 for key in FUNNEL), default=0) or 1
    previous: Kpi | None = None
    for key in FUNNEL:
        kpi = KPI_BY_KEY[key]
        value = values.get(key)
        before = values.get(previous.key) if previous else None
        comparable = previous is not None and not (
            team_selected and kpi.team_scoped and not previous.team_scoped
        )
        conversion = value / before if comparable and before and value is not None else None
        exceeds = conversion is not None and conversion > 1
        width = 100.0 * (value or 0) / widest
        steps.append(FunnelStep(kpi, value, None if exceeds else conversion, max(width, 1.5), exceeds))
        previous = kpi
    return steps


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
    (engine: 6 queries, fewer when the closed periods are cached; targets: 1; for a week, last week's
    snapshot: 1)."""
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
    for kind in KINDS:
        periods = Period.current(kind, now).trailing(TREND_PERIODS)
        for scope in scopes:
            compute(periods, scope=scope, now=now)
    return len(KINDS) * len(scopes)


def _frozen_week(week: Period, team: Team | None) -> dict[str, Number] | None:
    snapshot = WeeklySnapshot.objects.filter(week_start=week.start, team=team).only("values").first()
    return snapshot.values if snapshot is not None else None


# --- drill-down ---------------------------------------------------------------------------------------------


def restrict_to_viewer(kind: str, rows: QuerySet, viewer: User) -> tuple[QuerySet, bool]:
    """The rows a viewer may list, and whether some were left out; the number itself stays the shared one.

    The numbers are shared, so managers, marketing and admins list every record behind them; a sales rep lists
    the ones the rest of the app shows them (their own deals and handoffs, their team's leads). A deal the
    viewer cannot open is listed without a link (`can_open`).
    """
    is_rep = viewer.role == User.Role.SALES and not viewer.is_superuser
    if kind == LEADS and is_rep:
        return rows.filter(pk__in=Lead.objects.visible_to(viewer).values("pk")), True
    if kind == HANDOFFS and is_rep:
        return rows.filter(owner=viewer), True
    if kind == DEALS:
        visible = Deal.objects.visible_to(viewer)
        if is_rep:
            return rows.filter(pk__in=visible.values("pk")).annotate(can_open=Value(True)), True
        return rows.with_can_open(viewer), False
    return rows, False


@dataclass
class DrillDown:
    kpi: Kpi
    period: Period
    team: Team | None
    teams: list[Team]
    value: Number
    kind: str
    page: Page
    restricted: bool
    highlight_label: str | None
    inputs: list[Kpi]


@reads_from_replica()
def drilldown(
    *,
    kpi: Kpi,
    period: Period,
    team: Team | None,
    teams: list[Team],
    viewer: User,
    page_number: int | str = 1,
    now: dt.datetime | None = None,
) -> DrillDown:
    """The number and one page of the records behind it (engine + count + page)."""
    now = now or timezone.now()
    scope = Scope(team_id=team.pk if team else None) if kpi.team_scoped else Scope()
    # computed afresh, never from the cache, so the number always agrees with the rows listed under it
    value = compute([period], scope=scope, kpis=[kpi], now=now, fresh=True)[0][kpi.key]
    spec = DRILLDOWNS[kpi.drilldown]
    rows, restricted = restrict_to_viewer(spec.kind, spec.rows(period, scope, now), viewer)
    page = Paginator(rows, DRILLDOWN_PAGE_SIZE).get_page(page_number)
    return DrillDown(
        kpi=kpi,
        period=period,
        team=team if kpi.team_scoped else None,
        teams=teams,
        value=value,
        kind=spec.kind,
        page=page,
        restricted=restricted,
        highlight_label=spec.highlight_label,
        inputs=[KPI_BY_KEY[key] for key in kpi.inputs],
    )


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


# --- the definitions page -----------------------------------------------------------------------------------

KPI_DOCS = settings.BASE_DIR / "docs" / "kpis.md"


@functools.cache
def kpi_definitions_html() -> str:
    """docs/kpis.md as HTML: the definitions in the project's own words, one entry per KPI with an anchor named by
    its key (the dashboard's "?" links there). Read once per process: the file ships with the code."""
    return (
        MarkdownIt("commonmark", {"html": True}).enable("table").render(KPI_DOCS.read_text(encoding="utf-8"))
    )
