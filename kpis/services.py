"""Writes for the KPI app: targets, hand-entered values, weekly snapshots and action items."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kpis import changes
from kpis.models import (
    ActionItem,
    ManualKpiValue,
    PeriodKind,
    Target,
    WeeklySnapshot,
    may_assign_action_item,
)
from kpis.periods import MONTH, QUARTER, WEEK, Period, local_today, period_to_date
from kpis.registry import DEFINITIONS_HASH, HEADLINE, KPI_BY_KEY, VERSIONS, Ask, Scope, evaluate
from salesmarketing.models import Team, User

MANUAL_KEYS = tuple(key for key, kpi in KPI_BY_KEY.items() if kpi.manual)


# --- targets ----------------------------------------------------------------------------------------------


@transaction.atomic
def target_set(
    *,
    kpi: str,
    period_kind: str,
    team: Team | None,
    value: Decimal | None,
    by: User | None,
    today: dt.date | None = None,
) -> Target | None:
    """Set the target from the current period of its kind on; earlier periods keep theirs. None: no target from
    the current period on. Setting the same value again changes nothing."""
    if kpi not in KPI_BY_KEY or KPI_BY_KEY[kpi].manual:
        raise ValidationError({"kpi": _("Choose a KPI.")})
    if period_kind not in PeriodKind.values:
        raise ValidationError({"period_kind": _("Choose a period.")})
    if value is not None and value < 0:
        raise ValidationError({"value": _("A target cannot be negative.")})
    starts = Period.of(period_kind, today or local_today()).start
    current = (
        Target.objects.select_for_update()
        .filter(kpi=kpi, period_kind=period_kind, team=team, effective_from__lte=starts)
        .order_by("-effective_from")
        .first()
    )
    if current is None and value is None:
        return None
    if current is not None and current.value == value:
        return current
    if current is not None and current.effective_from == starts:
        current.value = value
        current.set_by = by
        current.save(update_fields=["value", "set_by", "updated_at"])
        return current
    return Target.objects.create(
        kpi=kpi, period_kind=period_kind, team=team, value=value, effective_from=starts, set_by=by
    )


def targets_in_force(*, team_id: int | None, on: dict[str, dt.date]) -> dict[str, dict[str, float]]:
    """{period kind: {kpi key: target}} for the periods of each kind starting on the given days (one query).

    With a team, the team's own targets count for the KPIs a team has; company-wide KPIs (visitors, costs…)
    keep the company's targets."""
    qs = Target.objects.filter(period_kind__in=list(on), effective_from__lte=max(on.values()))
    qs = (
        qs.filter(Q(team_id=team_id) | Q(team__isnull=True))
        if team_id is not None
        else qs.filter(team__isnull=True)
    )
    seen: set[tuple[str, str]] = set()
    result: dict[str, dict[str, float]] = {kind: {} for kind in on}
    rows = qs.order_by("kpi", "period_kind", "-effective_from").values_list(
        "kpi", "period_kind", "team_id", "effective_from", "value"
    )
    for key, kind, row_team, effective_from, value in rows:
        kpi = KPI_BY_KEY.get(key)
        if kpi is None or effective_from > on[kind] or (kind, key) in seen:
            continue
        wanted_team = team_id if kpi.team_scoped else None
        if row_team != wanted_team:
            continue
        seen.add((kind, key))  # the latest row in force decides, even when it says "no target"
        if value is not None:
            result[kind][key] = float(value)
    return result


# --- hand-entered values ------------------------------------------------------------------------------------


@transaction.atomic
def manual_value_set(
    *,
    kpi: str,
    period_kind: str,
    period_start: dt.date,
    value: Decimal,
    note: str = "",
    by: User | None,
) -> ManualKpiValue:
    """Enter (or correct) a hand-entered KPI value for a period; the period start is normalised to the first day
    of its month, quarter or year."""
    if kpi not in MANUAL_KEYS:
        raise ValidationError({"kpi": _("Choose a KPI entered by hand.")})
    if period_kind not in ManualKpiValue.Kind.values:
        raise ValidationError({"period_kind": _("Choose a period.")})
    if value < 0 or (KPI_BY_KEY[kpi].is_ratio and value > 1):
        raise ValidationError({"value": _("The value is out of range.")})
    if period_kind == ManualKpiValue.Kind.YEAR:
        start = period_start.replace(month=1, day=1)
    else:
        start = Period.of(period_kind, period_start).start
    entry, _created = ManualKpiValue.objects.update_or_create(
        kpi=kpi,
        period_start=start,
        defaults={"period_kind": period_kind, "value": value, "note": note.strip(), "entered_by": by},
    )
    return entry


# --- weekly snapshots ---------------------------------------------------------------------------------------


def snapshot_values(
    *,
    week: Period,
    team_id: int | None,
    now: dt.datetime | None = None,
    fresh: bool = True,
    last_week: bool = False,
) -> dict:
    """What a snapshot of `week` holds: every KPI's value for the week, the meeting's KPIs month- and
    quarter-to-date with the share of their period the week's end reaches, and the targets then in force.
    Computed afresh (a snapshot freezes numbers computed whole) unless `fresh` is off: the live review page reads
    them from the cache like the dashboard does, which is as exact (a cached value is keyed by the generations of
    the days it counts, so it holds every write). With `last_week`, also the meeting's KPIs of the week before
    (under "last_week"): all of them in the same call of the engine."""
    month_part, month_share = period_to_date(MONTH, until=week.end)
    quarter_part, quarter_share = period_to_date(QUARTER, until=week.end)
    # To date only for the meeting's KPIs (leads, handoffs, deals): page views of a whole quarter stay unread.
    asks = [
        Ask(week, fresh=fresh),
        Ask(month_part, kpis=HEADLINE, fresh=fresh),
        Ask(quarter_part, kpis=HEADLINE, fresh=fresh),
    ]
    if last_week:
        asks.append(Ask(week.previous(), kpis=HEADLINE))
    values, month, quarter, *before = evaluate(asks, scope=Scope(team_id=team_id), now=now)
    targets = targets_in_force(
        team_id=team_id,
        on={WEEK: week.start, MONTH: Period.of(MONTH, month_part.start).start, QUARTER: quarter_part.start},
    )
    return {
        "values": values,
        "context": {
            "month": month,
            "quarter": quarter,
            "month_share": month_share,
            "quarter_share": quarter_share,
            "month_label": Period.of(MONTH, month_part.start).label,
            "quarter_label": Period.of(QUARTER, quarter_part.start).label,
        },
        "targets": targets,
    } | ({"last_week": before[0]} if last_week else {})


def snapshot_freeze_week(
    *, week: Period, team: Team | None, now: dt.datetime | None = None
) -> tuple[WeeklySnapshot, bool]:
    """Freeze what the meeting sees for a finished ISO week. Idempotent: a frozen week is never recomputed, and
    a concurrent freeze of the same week loses quietly. Returns (snapshot, created)."""
    now = now or timezone.now()
    if week.kind != WEEK:
        raise ValueError("only ISO weeks are frozen")
    if not week.is_over(now):
        raise ValueError(f"{week.label} is not over yet")
    existing = WeeklySnapshot.objects.filter(week_start=week.start, team=team).first()
    if existing is not None:
        return existing, False
    data = snapshot_values(week=week, team_id=team.pk if team else None, now=now)
    iso_year, iso_week, _day = week.start.isocalendar()
    try:
        with transaction.atomic():
            snapshot = WeeklySnapshot.objects.create(
                week_start=week.start,
                iso_year=iso_year,
                iso_week=iso_week,
                team=team,
                values=data["values"],
                context=data["context"],
                targets=data["targets"],
                versions=dict(VERSIONS),
                definitions_hash=DEFINITIONS_HASH,
                frozen_at=now,
            )
    except IntegrityError:  # another worker froze it first
        return WeeklySnapshot.objects.get(week_start=week.start, team=team), False
    return snapshot, True


def snapshots_freeze_due(*, now: dt.datetime | None = None, weeks_back: int = 4) -> int:
    """Freeze the last `weeks_back` finished weeks for everyone and for every team, where not frozen yet (so a
    week missed while beat was down is caught up). Returns how many snapshots were made."""
    now = now or timezone.now()
    last = Period.last_complete_week(now)
    teams: list[Team | None] = [None, *Team.objects.order_by("pk")]
    made = 0
    for week in last.trailing(weeks_back):
        for team in teams:
            _snapshot, created = snapshot_freeze_week(week=week, team=team, now=now)
            made += created
    return made


# --- action items -------------------------------------------------------------------------------------------


@transaction.atomic
def action_item_create(
    *, title: str, owner: User, due_date: dt.date | None, week: Period, by: User | None
) -> ActionItem:
    """Add what the meeting agreed. `by` (None: the system, e.g. demo data) must be a manager or admin, or the
    owner: PermissionDenied otherwise."""
    if by is not None and not may_assign_action_item(user=by, owner_id=owner.pk):
        raise PermissionDenied
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Write down what will be done.")
    if due_date is None:
        errors["due_date"] = _("Enter a due date.")
    if week.kind != WEEK:
        errors["week"] = _("Action items belong to a week.")
    if errors or due_date is None:  # (due_date: for mypy, which cannot follow the errors dict)
        raise ValidationError(errors)
    return ActionItem.objects.create(
        title=title[:300], owner=owner, due_date=due_date, week_start=week.start, created_by=by
    )


@transaction.atomic
def action_item_set_done(*, item: ActionItem, done: bool, by: User | None) -> ActionItem:
    """Mark done (the first completion time stays) or open again. Repeating either changes nothing. `by` must
    be the owner, a manager or an admin (None: the system); PermissionDenied otherwise."""
    if by is not None and not item.can_be_changed_by(by):
        raise PermissionDenied
    if done:
        ActionItem.objects.filter(pk=item.pk, done_at__isnull=True).update(done_at=timezone.now())
    else:
        ActionItem.objects.filter(pk=item.pk).update(done_at=None)
    item.refresh_from_db(fields=["done_at"])
    return item


# --- day marks ----------------------------------------------------------------------------------------------

# The marks committed so far, each (source, day) folded into its KpiDay row under a generation newer than every
# generation yet (so no cache key made before the fold is made again after it); a mark committed meanwhile is
# simply left for the next run.
FOLD_DAY_MARKS = {
    "postgresql": """
WITH folded AS (DELETE FROM kpis_kpimark RETURNING source, day)
INSERT INTO kpis_kpiday (source, day, generation)
SELECT source, day, nextval('kpis_kpiday_generation_seq') FROM (SELECT DISTINCT source, day FROM folded) days
ON CONFLICT (source, day) DO UPDATE SET generation = EXCLUDED.generation
""",
    # SQLite's writers take turns: read, then delete what was read, in one transaction.
    "sqlite": f"""
INSERT INTO kpis_kpiday (source, day, generation)
SELECT DISTINCT source, day, ({changes.SQLITE_NEXT_GENERATION}) FROM kpis_kpimark WHERE true
ON CONFLICT (source, day) DO UPDATE SET generation = excluded.generation
""",
}


def day_marks_fold() -> int:
    """Fold the KPI day marks the triggers appended (kpis.changes) into one row per day. Returns the rows
    written (PostgreSQL: a row per day folded)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FOLD_DAY_MARKS[connection.vendor])
        folded = cursor.rowcount
        if connection.vendor == "sqlite":
            cursor.execute("DELETE FROM kpis_kpimark")
    return folded


# --- visitor counts ---------------------------------------------------------------------------------------

COMPACT_VISITOR_COUNTS = """
WITH folded AS (
    DELETE FROM kpis_visitorcount c
    USING (SELECT kind, start FROM kpis_visitorcount GROUP BY kind, start HAVING count(*) > 1) many
    WHERE c.kind = many.kind AND c.start = many.start
    RETURNING c.kind, c.start, c.visitors
)
INSERT INTO kpis_visitorcount (kind, start, visitors)
SELECT kind, start, sum(visitors) FROM folded GROUP BY kind, start
"""


# The roll-up of every stored page view: the trigger's statement (migrations 0002 to 0004) over the whole table,
# in key order, so the primary key is filled from left to right. A visitor is a person: its lead when known,
# else its tracking id (kpis.registry.measures.VISITOR_KEY).
REBUILD_VISITOR_PERIODS = """
INSERT INTO kpis_visitorperiod (kind, start, visitor)
SELECT DISTINCT k.kind, k.start, v.visitor
FROM (
    SELECT CASE WHEN lead_id IS NOT NULL THEN 'lead:' || lead_id ELSE visitor_id END AS visitor,
           (occurred_at AT TIME ZONE 'Asia/Tokyo')::date AS day
    FROM leads_touch
    WHERE type = 'page_view' AND (visitor_id <> '' OR lead_id IS NOT NULL)
) v
CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', v.day)::date),
                           ('month', date_trunc('month', v.day)::date),
                           ('quarter', date_trunc('quarter', v.day)::date)) k (kind, start)
ORDER BY 1, 2, 3
"""


def visitor_periods_rebuild() -> int:
    """Recompute the visitor roll-up (VisitorPeriod, VisitorCount) from every stored page view, in one
    transaction: after a bulk load that left the trigger off (bench/generate.py), or to repair it (about a minute
    and a half at 10M page views). Ingest and the visitor KPIs wait for it meanwhile: TRUNCATE locks both tables,
    and spares the new rows the unique checks against ten million deleted ones. Returns the number of
    visitor-period rows; no-op on SQLite, where nothing keeps the roll-up."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE kpis_visitorperiod, kpis_visitorcount")
        cursor.execute(REBUILD_VISITOR_PERIODS)
        rows = cursor.rowcount
        cursor.execute(
            """INSERT INTO kpis_visitorcount (kind, start, visitors)
               SELECT kind, start, count(*) FROM kpis_visitorperiod GROUP BY kind, start"""
        )
    return rows


def visitor_counts_compact() -> int:
    """Fold each period's visitor-count deltas into one row (one statement: the sums never change, and a delta
    committed meanwhile is simply left for the next run). Returns how many periods were folded; no-op on SQLite,
    where nothing keeps the counts."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(COMPACT_VISITOR_COUNTS)
        return cursor.rowcount


def visitor_periods_forget(*, visitors: list[str]) -> int:
    """Replace these tracking ids in the visitor roll-up with ids that name nobody (an erasure: the id is personal
    data). Each id gets its own random stand-in, so every period keeps the same number of distinct visitors and
    VisitorCount stays right. Returns the rows changed; no-op on SQLite, where nothing keeps the roll-up."""
    if connection.vendor != "postgresql" or not visitors:
        return 0
    pairs = [(visitor, f"erased:{secrets.token_hex(16)}") for visitor in dict.fromkeys(visitors)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE kpis_visitorperiod p SET visitor = m.anonymous
                FROM (VALUES {", ".join(["(%s, %s)"] * len(pairs))}) m (visitor, anonymous)
                WHERE p.visitor = m.visitor""",
            [value for pair in pairs for value in pair],
        )
        return cursor.rowcount
