"""One KPI's figures (value, previous, target, pacing) and the funnel: what the dashboard and the weekly
review both show."""

from __future__ import annotations

from dataclasses import dataclass, field

from kpis.registry import FUNNEL, KPI_BY_KEY, Kpi, Number

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
