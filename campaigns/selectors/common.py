"""What the campaign pages share: who may edit, the numbers of a campaign, chart buckets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from campaigns.models import AttributionModel, AttributionState, ConversionKind
from campaigns.periods import Period
from leads import ratios
from leads.models import Handoff
from leads.ratios import Number
from salesmarketing.models import User

PAGE_SIZE = 50
LEADS_PAGE_SIZE = 20
METRICS = ("leads", "mqls", "sqls", "deals", "won", "revenue")
COUNTS = METRICS[:-1]
# Counts are shown whole, by the campaign that brought each one in (first touch): a lead is 1, never 0.3. The
# chosen attribution model's credit is shown beside them, and decides how won revenue is shared.
WHOLE = AttributionModel.FIRST


def metric_columns(model: str) -> dict[str, str]:
    """The AttributionDay column behind each number: each count whole (first touch), revenue under `model`, and
    each count's credit under `model` as `credit_<count>`."""
    return (
        {metric: f"{metric}_{WHOLE}" for metric in COUNTS}
        | {"revenue": f"revenue_{model}"}
        | {f"credit_{metric}": f"{metric}_{model}" for metric in COUNTS}
    )


REASON_LABELS = dict(Handoff.RejectReason.choices)


def can_edit(user: User) -> bool:
    """Marketing, managers and admins edit campaigns, costs and personas; sales reps only look."""
    return user.is_superuser or user.role in (User.Role.MARKETING, User.Role.MANAGER, User.Role.ADMIN)


def attribution_state() -> AttributionState | None:
    return AttributionState.objects.filter(pk=1).first()


@dataclass
class Numbers:
    """What a campaign (or a total) produced in the period, and what it cost: counts whole (first touch), their
    credit under the chosen attribution model in `credit`, won revenue under that model.

    The ratios are leads.ratios' definitions (the KPI registry's too), over the whole counts, rounded as the
    registry rounds them; a cost ratio without spend is None ("—"), not 0 yen."""

    spend: float = 0
    leads: float = 0
    mqls: float = 0
    sqls: float = 0
    deals: float = 0
    won: float = 0
    revenue: float = 0
    accepted: int = 0
    rejected: int = 0
    revenue_by_model: dict = field(default_factory=dict)
    credit: dict = field(default_factory=dict)  # count → credit under the chosen model
    budget: float = 0  # the campaign's budget (0: none set) and what it has cost in all, against it
    lifetime_spend: float = 0

    @property
    def over_budget(self) -> bool:
        return bool(self.budget) and self.lifetime_spend > self.budget

    def _parts(self) -> dict[str, float]:
        return {
            "spend": self.spend,
            "leads": self.leads,
            "mqls": self.mqls,
            "deals": self.deals,
            "revenue": self.revenue,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }

    @property
    def cpl(self) -> Number:
        return ratios.CPL.rounded(self._parts())

    @property
    def cost_per_mql(self) -> Number:
        return ratios.COST_PER_MQL.rounded(self._parts())

    @property
    def cost_per_deal(self) -> Number:
        return ratios.COST_PER_DEAL.rounded(self._parts())

    @property
    def roi(self) -> Number:
        return ratios.ROI.rounded(self._parts())

    @property
    def mql_rate(self) -> Number:
        return ratios.MQL_RATE.rounded(self._parts())

    @property
    def acceptance(self) -> Number:
        return ratios.ACCEPTANCE.rounded(self._parts())

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected


def numbers_from(row) -> Numbers:
    """Numbers from an annotated campaign or an aggregate dict (keys `m_<metric>`)."""
    get = row.get if isinstance(row, dict) else (lambda key, default=None: getattr(row, key, default))
    return Numbers(
        spend=float(get("m_spend") or 0),
        accepted=int(get("m_accepted") or 0),
        rejected=int(get("m_rejected") or 0),
        **{metric: float(get(f"m_{metric}") or 0) for metric in METRICS},
        revenue_by_model={m: float(get(f"m_revenue_{m}") or 0) for m in AttributionModel.values},
        credit={metric: float(get(f"m_credit_{metric}") or 0) for metric in COUNTS},
        budget=float(get("budget") or 0),
        lifetime_spend=float(get("m_lifetime_spend") or 0),
    )


@dataclass(frozen=True)
class MonthSplit:
    """A period as the whole calendar months inside it, [months_from, months_to), and the days around them,
    [start, months_from) and [months_to, end]: read the months from the monthly roll-ups and only the edges from
    the daily rows. A period without a whole month is all edge: its months range is empty. `weeks()` splits it
    the same way by whole ISO weeks (Monday to Sunday), for the weekly roll-up."""

    start: dt.date
    months_from: dt.date
    months_to: dt.date
    after_end: dt.date  # the day after the period

    @classmethod
    def of(cls, period: Period) -> MonthSplit:
        after_end = period.end + dt.timedelta(days=1)
        return cls._split(
            period.start,
            after_end,
            period.start if period.start.day == 1 else _next_month(period.start),
            after_end.replace(day=1),
        )

    @classmethod
    def weeks(cls, period: Period) -> MonthSplit:
        after_end = period.end + dt.timedelta(days=1)
        monday = period.start - dt.timedelta(days=period.start.weekday())
        return cls._split(
            period.start,
            after_end,
            monday if monday == period.start else monday + dt.timedelta(days=7),
            after_end - dt.timedelta(days=after_end.weekday()),
        )

    @classmethod
    def edges_only(cls, period: Period) -> MonthSplit:
        """The whole period as edge days (no roll-up read)."""
        after_end = period.end + dt.timedelta(days=1)
        return cls(period.start, after_end, after_end, after_end)

    @classmethod
    def _split(cls, start: dt.date, after_end: dt.date, first: dt.date, last: dt.date) -> MonthSplit:
        if first >= last:
            return cls(start, after_end, after_end, after_end)
        return cls(start, first, last, after_end)

    def day_sql(self, column: str) -> tuple[str, list]:
        """The daily rows outside the whole months."""
        return f"(({column} >= %s AND {column} < %s) OR ({column} >= %s AND {column} < %s))", [
            self.start,
            self.months_from,
            self.months_to,
            self.after_end,
        ]

    def edge_times_sql(self, column: str) -> tuple[str, list]:
        """The day_sql of a timestamp column: the edge days from midnight to midnight in the current time zone."""
        tz = timezone.get_current_timezone()
        bounds = [self.start, self.months_from, self.months_to, self.after_end]
        sql, _ = self.day_sql(column)
        at = connection.ops.adapt_datetimefield_value
        return sql, [at(dt.datetime.combine(day, dt.time.min, tzinfo=tz)) for day in bounds]

    def month_sql(self, column: str) -> tuple[str, list]:
        return f"{column} >= %s AND {column} < %s", [self.months_from, self.months_to]

    def day_q(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lt": self.months_from}) | Q(
            **{f"{field_name}__gte": self.months_to, f"{field_name}__lt": self.after_end}
        )

    def month_q(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.months_from, f"{field_name}__lt": self.months_to})


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def trunc_to_bucket(period: Period, field_name: str):
    if period.bucket == "week":
        return TruncWeek(field_name)
    if period.bucket == "month":
        return TruncMonth(field_name)
    return F(field_name)


def as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


STEP_ORDER = [
    ConversionKind.VISIT,
    ConversionKind.LEAD,
    ConversionKind.MQL,
    ConversionKind.SQL,
    ConversionKind.DEAL,
    ConversionKind.WON,
]
