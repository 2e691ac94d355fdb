"""Measures: the SQL aggregates every KPI is made of, one table (a *source*) at a time.

Each measure is a conditional aggregate (COUNT/SUM/median … FILTER (WHERE the row is in the period and passes the
measure's condition)), so the engine can put every measure of a source, for every period asked, into one query.
The period places a row by one timestamp of it (`date_field`): a lead by its creation, a deal won by its close…
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.db.models import Aggregate, Case, CharField, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Cast, Concat

from kpis.db import Median, SecondsBetween
from kpis.periods import Period
from leads.choices import LifecycleStage
from pipeline.models import Deal

LEAD, TOUCH, HANDOFF, DEAL, COST, QUOTE, LIFECYCLE = (
    "lead",
    "touch",
    "handoff",
    "deal",
    "cost",
    "quote",
    "lifecycle",
)


@dataclass(frozen=True)
class Scope:
    """Whose numbers: everyone (both None), one team, or one owner."""

    team_id: int | None = None
    owner_id: int | None = None

    @property
    def is_everyone(self) -> bool:
        return self.team_id is None and self.owner_id is None


# Whose rows are whose, per source: the lookups of the row's team and owner. Touches and costs belong to no team.
SCOPE_LOOKUPS: dict[str, tuple[str, str]] = {
    LEAD: ("owner__team_id", "owner_id"),
    HANDOFF: ("team_id", "owner_id"),
    DEAL: ("team_id", "owner_id"),
    QUOTE: ("deal__team_id", "deal__owner_id"),  # a quote is its deal's: the deal's team and owner
    # a lifecycle change is its lead's: the lead's owner and the owner's team
    LIFECYCLE: ("lead__owner__team_id", "lead__owner_id"),
}


def scope_condition(source: str, scope: Scope) -> Q:
    """The row condition for a team or an owner on one source."""
    q = Q()
    if source in SCOPE_LOOKUPS:
        team, owner = SCOPE_LOOKUPS[source]
        if scope.team_id is not None:
            q &= Q(**{team: scope.team_id})
        if scope.owner_id is not None:
            q &= Q(**{owner: scope.owner_id})
    return q


# --- windows: which rows a period covers ---------------------------------------------------------------

Bound = dt.datetime | dt.date | None
Window = Callable[[Period, dt.datetime], tuple[Bound, Bound]]


def in_period(period: Period, now: dt.datetime) -> tuple[Bound, Bound]:
    return period.start_at, period.end_at


def in_period_days(period: Period, now: dt.datetime) -> tuple[Bound, Bound]:
    return period.start, period.end


def in_period_until_now(period: Period, now: dt.datetime) -> tuple[Bound, Bound]:
    """Only what has already fallen due: an SLA due later this week is neither met nor breached yet."""
    start = period.start_at
    return start, max(start, min(period.end_at, now))


def before_period_end(period: Period, now: dt.datetime) -> tuple[Bound, Bound]:
    return None, period.end_at


def year_to_period_end(period: Period, now: dt.datetime) -> tuple[Bound, Bound]:
    return period.end_at - dt.timedelta(days=365), period.end_at


@dataclass(frozen=True)
class Measure:
    name: str
    source: str
    date_field: str
    aggregate: Callable[[Q], Aggregate]
    condition: Q = Q()
    window: Window = in_period
    scoped: bool = True

    @property
    def splits_by_day(self) -> bool:
        """A count or sum placed by one timestamp adds up day by day: its value over a period is its value over the
        days before today plus today's (a window that moves with the period's end, like the trailing year, and
        medians and distinct counts do not)."""
        return getattr(self.aggregate, "adds_up", False) and self.window in (
            in_period,
            in_period_days,
            in_period_until_now,
            before_period_end,
        )

    @property
    def moves_with_now(self) -> bool:
        """Its rows change with the clock, not only with writes (what has fallen due by now)."""
        return self.window is in_period_until_now

    def from_day_on(self) -> Measure:
        """This measure over the rest of a period only (from its start on): what a lifetime sum adds after the
        days already counted."""
        return replace(self, window=in_period) if self.window is before_period_end else self

    def row_condition(self, period: Period, now: dt.datetime, scope: Scope) -> Q:
        low, high = self.window(period, now)
        q = Q(**{f"{self.date_field}__lt": high})
        if low is not None:
            q &= Q(**{f"{self.date_field}__gte": low})
        # The measure's own condition after the period's bounds: in an aggregate's FILTER, PostgreSQL tests them
        # in this order, so a costly one (a deal's probe per handoff) runs for the period's rows only, not for
        # every earlier row of a trend's statement.
        q &= self.condition
        if self.scoped:
            q &= scope_condition(self.source, scope)
        return q


def _adds_up(aggregate: Callable[[Q], Aggregate]) -> Callable[[Q], Aggregate]:
    aggregate.adds_up = True  # the aggregate over two disjoint sets of rows is the sum of the two
    return aggregate


@_adds_up
def count(condition: Q) -> Aggregate:
    # COUNT(1), not COUNT(id): a count whose conditions are all on indexed columns is read from the index alone
    return Count(Value(1), filter=condition)


def sum_of(field_name: str) -> Callable[[Q], Aggregate]:
    return _adds_up(lambda condition: Sum(field_name, filter=condition, default=0))


def median_seconds(end: str, start: str) -> Callable[[Q], Aggregate]:
    return lambda condition: Median(SecondsBetween(F(end), F(start)), filter=condition)


def distinct(expression) -> Callable[[Q], Aggregate]:
    return lambda condition: Count(expression, distinct=True, filter=condition)


def distinct_visitors(condition: Q):
    """Visitors are people: distinct known leads (whatever tracking ids they used, and page views sent by email
    only), plus distinct tracking ids nobody has identified yet. Two plain distinct counts rather than one over a
    built string key: the same meaning, a fraction of the work. An identified visitor's page views carry its lead
    (ingestion moves the anonymous ones when it identifies), so no person is in both counts."""
    return Count("lead_id", distinct=True, filter=condition & Q(lead__isnull=False)) + Count(
        "visitor_id", distinct=True, filter=condition & Q(lead__isnull=True)
    )


# A visitor is a known lead, or a tracking-cookie id nobody has identified; the drill-down lists them by this key
# (the same key as the PostgreSQL roll-up, kpis.services.REBUILD_VISITOR_PERIODS).
VISITOR_KEY = Case(
    When(lead__isnull=False, then=Concat(Value("lead:"), Cast("lead_id", CharField()))),
    default=F("visitor_id"),
    output_field=CharField(),
)


def _has_deal() -> Q:
    """The handoff became a deal: a probe of the deal's unique handoff index per accepted handoff counted (a
    join would hash every deal ever made)."""
    # Only an accepted handoff gets a deal: the state, checked first, spares the probe for the others.
    return Q(state="accepted") & Q(Exists(Deal.objects.filter(handoff=OuterRef("pk"))))


WON = Q(status="won")
LOST = Q(status="lost")
# Marketing-sourced: created from a lead sales accepted through a marketing handoff (deal_create_from_handoff),
# nothing else. A deal labelled "marketing" by hand or by an API key without a handoff is self-reported, counted
# apart; a deal with a handoff cannot be relabelled (pipeline.services.deal_update, deal_from_handoff_is_marketing).
MARKETING_SOURCED = Q(handoff__isnull=False)
SELF_REPORTED_MARKETING = Q(source="marketing", handoff__isnull=True)

# A quote sent and then superseded by a later revision is replaced by it: each quote number counts once, by its
# live revision (quotes.services.quote_revise).
LIVE_QUOTE = ~Q(status="superseded")
QUOTE_ACCEPTED = Q(status="accepted")

MEASURES: tuple[Measure, ...] = (
    # leads: placed by creation
    Measure("leads", LEAD, "created_at", count),
    Measure("leads_all", LEAD, "created_at", count, scoped=False),
    # touches: page views by distinct visitor
    Measure("visitors", TOUCH, "occurred_at", distinct_visitors, Q(type="page_view"), scoped=False),
    # handoffs: MQL flips, sales' verdicts, first touches and SLA due times
    Measure("mqls", HANDOFF, "mql_at", distinct("lead_id")),
    Measure("mqls_all", HANDOFF, "mql_at", distinct("lead_id"), scoped=False),
    Measure("handed_over", HANDOFF, "mql_at", count),
    # 商談化率's cohort counts leads, not handoffs: a lead handed over twice in a period (rejected, back, accepted)
    # is one lead, as in the MQL count.
    Measure("handed_over_leads", HANDOFF, "mql_at", distinct("lead_id")),
    Measure("handed_over_leads_to_deal", HANDOFF, "mql_at", distinct("lead_id"), _has_deal()),
    Measure("accepted", HANDOFF, "decided_at", count, Q(state="accepted")),
    Measure("rejected", HANDOFF, "decided_at", count, Q(state="rejected")),
    Measure(
        "first_touch_seconds",
        HANDOFF,
        "first_touch_at",
        median_seconds("first_touch_at", "assigned_at"),
        Q(assigned_at__isnull=False),
    ),
    Measure("sla_due", HANDOFF, "sla_due_at", count, window=in_period_until_now),
    Measure(
        "sla_met",
        HANDOFF,
        "sla_due_at",
        count,
        Q(first_touch_at__isnull=False, first_touch_at__lte=F("sla_due_at")),
        window=in_period_until_now,
    ),
    # deals: created (商談化), closed won / lost
    Measure("deals_created", DEAL, "created_at", count),
    Measure("deals_created_marketing", DEAL, "created_at", count, MARKETING_SOURCED),
    Measure("deals_created_self_reported", DEAL, "created_at", count, SELF_REPORTED_MARKETING),
    Measure("won", DEAL, "closed_at", count, WON),
    Measure("won_marketing", DEAL, "closed_at", count, WON & MARKETING_SOURCED),
    Measure("lost", DEAL, "closed_at", count, LOST),
    Measure("revenue", DEAL, "closed_at", sum_of("won_amount"), WON),
    Measure("revenue_marketing", DEAL, "closed_at", sum_of("won_amount"), WON & MARKETING_SOURCED),
    Measure(
        "revenue_marketing_all",
        DEAL,
        "closed_at",
        sum_of("won_amount"),
        WON & MARKETING_SOURCED,
        scoped=False,
    ),
    Measure("cycle_seconds", DEAL, "closed_at", median_seconds("closed_at", "created_at"), WON),
    Measure(
        "lifetime_revenue",
        DEAL,
        "closed_at",
        sum_of("won_amount"),
        WON & Q(company__isnull=False),
        window=before_period_end,
    ),
    Measure(
        "lifetime_customers",
        DEAL,
        "closed_at",
        distinct("company_id"),
        WON & Q(company__isnull=False),
        window=before_period_end,
    ),
    Measure(
        "revenue_trailing_year",
        DEAL,
        "closed_at",
        sum_of("won_amount"),
        WON,
        window=year_to_period_end,
        scoped=False,
    ),
    # quotes: sent (the acceptance rate's cohort, placed by the sending) and accepted
    Measure("quotes_sent", QUOTE, "sent_at", count, LIVE_QUOTE),
    Measure("quotes_sent_accepted", QUOTE, "sent_at", count, QUOTE_ACCEPTED),
    Measure("quotes_accepted", QUOTE, "decided_at", count, QUOTE_ACCEPTED),
    # lifecycle history: distinct leads that became a stage in the period (leads.models.LifecycleChange, placed by
    # the change); a lead that became a customer twice in the period is one customer
    Measure("new_customers", LIFECYCLE, "at", distinct("lead_id"), Q(to_stage=LifecycleStage.CUSTOMER)),
    # campaign costs: placed by their date
    Measure("cost", COST, "date", sum_of("amount"), window=in_period_days, scoped=False),
)

MEASURES_BY_NAME = {m.name: m for m in MEASURES}

# Hand-entered values (kpis.models.ManualKpiValue) are measures too: the value in force for the period.
MANUAL_MEASURES = ("brand_awareness", "market_size")
