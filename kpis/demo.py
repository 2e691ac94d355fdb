"""Demo KPI data for `seed_demo` (runs after the pipeline's demo): targets near what the demo data achieves,
survey values, twelve frozen weeks, and a few action items. Idempotent: a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.utils import timezone

from kpis import services
from kpis.models import ActionItem, ManualKpiValue
from kpis.periods import MONTH, QUARTER, WEEK, Period, local_today
from kpis.registry import KPIS, Direction, Scope, Unit, compute
from salesmarketing.models import Team

WEEKS = 12
BRAND_AWARENESS = ["0.182", "0.188", "0.197", "0.203", "0.214", "0.226"]  # the last six monthly surveys
MARKET_SIZE = Decimal("8000000000")  # 80億円 a year
ACTIONS = [
    # title, owner, raised weeks ago, due in days from that week's Monday, done days after raising (None: open)
    ("残業削減ウェビナーの参加者リストを営業一課へ共有", "mktg", 3, 4, 2),
    ("「資料を見ただけ」の差し戻しが多いホワイトペーパーのスコア配点を見直す", "mktg_mgr", 3, 10, None),
    ("初回連絡の遅れによる失注: SLA超過時の再割り当てを4時間に短縮", "sales_mgr", 2, 7, 5),
    ("現場マネージャー向けの新施策 (残業時間削減) の企画案を作る", "mktg2", 2, 14, None),
    ("価格で失注した案件の見積条件を営業二課と確認", "sales_mgr2", 1, 5, None),
]


def seed(*, users: dict, stdout) -> None:
    now = timezone.now()
    last_week = Period.last_complete_week(now)
    weeks = last_week.trailing(WEEKS)
    teams = list(Team.objects.order_by("pk"))
    services.day_marks_fold()  # the demo's writes so far marked their days: one row each, as beat folds them every minute
    # Hand-entered values first: market share needs the market size to get a target.
    _manual_values(users, today=local_today(now))
    targets = _targets(users, weeks, teams, now=now)
    frozen = _snapshots(weeks, teams, now=now)
    _action_items(users, last_week, now=now)
    stdout.write(f"kpis: {targets} targets checked, {frozen} weekly snapshots frozen, demo action items")


def _manual_values(users: dict, *, today: dt.date) -> None:
    """The monthly brand awareness survey and the yearly market size estimate."""
    for months_ago, share in enumerate(reversed(BRAND_AWARENESS)):
        month = Period.of(MONTH, today).shift(-months_ago - 1)
        services.manual_value_set(
            kpi="brand_awareness",
            period_kind=ManualKpiValue.Kind.MONTH,
            period_start=month.start,
            value=Decimal(share),
            note="月次ブランド認知度調査 (n=1,000, 助成想起)",
            by=users.get("mktg_mgr"),
        )
    for year in (today.year - 1, today.year):
        services.manual_value_set(
            kpi="market_size",
            period_kind=ManualKpiValue.Kind.YEAR,
            period_start=dt.date(year, 1, 1),
            value=MARKET_SIZE,
            note="矢野経済研究所「勤怠管理SaaS市場」推計",
            by=users.get("mktg_mgr"),
        )


def _targets(users: dict, weeks: list[Period], teams: list[Team], *, now: dt.datetime) -> int:
    """Targets a little better than the weeks' averages, for everyone and each sales team; returns how many."""
    long_ago = weeks[0].start - dt.timedelta(days=400)
    targets = 0
    for team in [None, *[t for t in teams if t.kind == Team.Kind.SALES]]:
        averages = _weekly_averages(weeks, team_id=team.pk if team else None, now=now)
        for kpi in KPIS:
            if kpi.manual or kpi.auxiliary or (team is not None and not kpi.team_scoped):
                continue
            average = averages.get(kpi.key)
            if not average or average < 0:  # no target below zero (a losing ROI): leave it unset
                continue
            for kind, factor in ((WEEK, 1), (MONTH, 52 / 12), (QUARTER, 13)):
                value = _target(kpi, average * (factor if kpi.additive else 1))
                services.target_set(
                    kpi=kpi.key,
                    period_kind=kind,
                    team=team,
                    value=value,
                    by=users.get("admin"),
                    today=long_ago,
                )
                targets += 1
    return targets


def _snapshots(weeks: list[Period], teams: list[Team], *, now: dt.datetime) -> int:
    """Freeze each week, for everyone and each team; returns how many were new."""
    frozen = 0
    for week in weeks:
        for team in [None, *teams]:
            _snapshot, created = services.snapshot_freeze_week(
                week=week, team=team, now=min(now, week.end_at + dt.timedelta(minutes=5))
            )
            frozen += created
    return frozen


def _action_items(users: dict, last_week: Period, *, now: dt.datetime) -> None:
    """The weekly reviews' action items, some already done (once: skipped when the first one exists)."""
    if ActionItem.objects.filter(title=ACTIONS[0][0]).exists():
        return
    for title, username, weeks_ago, due_days, done_after in ACTIONS:
        week = last_week.shift(-weeks_ago + 1)
        item = services.action_item_create(
            title=title,
            owner=users[username],
            due_date=week.end + dt.timedelta(days=due_days),
            week=week,
            by=users.get("sales_mgr"),
        )
        if done_after is not None:
            done_at = min(now, week.end_at + dt.timedelta(days=done_after, hours=10))
            ActionItem.objects.filter(pk=item.pk).update(done_at=done_at)


def _weekly_averages(weeks: list[Period], *, team_id: int | None, now: dt.datetime) -> dict[str, float]:
    """Each KPI's mean over the weeks that have a value."""
    series = compute(weeks, scope=Scope(team_id=team_id), now=now)
    averages = {}
    for kpi in KPIS:
        values = [v[kpi.key] for v in series if v[kpi.key] is not None]
        if values:
            averages[kpi.key] = sum(values) / len(values)
    return averages


def _target(kpi, average: float) -> Decimal:
    """A stretch target a little better than the average, rounded the way people set targets."""
    better = 1.15 if kpi.direction == Direction.UP else 0.85
    value = average * better
    if kpi.unit == Unit.PERCENT:
        return Decimal(str(round(min(value, 0.95), 2)))
    if kpi.unit in (Unit.DAYS, Unit.MINUTES):
        return Decimal(max(1, round(value)))
    if kpi.unit == Unit.YEN and value >= 100:
        magnitude = 10 ** (int(math.log10(value)) - 1)
        return Decimal(round(value / magnitude) * magnitude)
    return Decimal(max(1, round(value)))
