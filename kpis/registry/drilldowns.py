"""The records behind each number: a drill-down reuses the row condition of the measures a KPI counts, so the
list and the number can never disagree.

A ratio lists its denominator's records and marks the ones in the numerator ("won" among the closed deals).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from campaigns.models import CampaignCost
from kpis.db import SecondsBetween
from kpis.models import ManualKpiValue
from kpis.periods import Period
from kpis.registry.measures import MEASURES_BY_NAME, VISITOR_KEY, Scope
from leads.models import Handoff, Lead, LifecycleChange, Touch
from pipeline.models import Deal
from quotes.models import Quote

LEADS, STAGE_CHANGES, HANDOFFS, DEALS, QUOTES, VISITORS, COSTS, CUSTOMERS, MANUAL = (
    "leads",
    "stage_changes",
    "handoffs",
    "deals",
    "quotes",
    "visitors",
    "costs",
    "customers",
    "manual",
)


@dataclass(frozen=True)
class Drilldown:
    kind: str  # which table of records (and which template partial) the list shows
    measures: tuple[str, ...] = ()  # rows any of these measures count
    highlight: str | None = None  # a measure whose rows are marked (the numerator)
    highlight_label: Promise | None = None
    exclude: str | None = None  # rows this measure counts are left out (breaches = due − met)
    manual_kpi: str | None = None
    order_by: tuple[str, ...] = ()

    def _condition(self, period: Period, scope: Scope, now: dt.datetime) -> Q:
        condition = Q()
        for name in self.measures:
            condition |= MEASURES_BY_NAME[name].row_condition(period, now, scope)
        if self.exclude:
            condition &= ~MEASURES_BY_NAME[self.exclude].row_condition(period, now, scope)
        return condition

    def rows(self, period: Period, scope: Scope, now: dt.datetime) -> QuerySet:
        """The records, unpaginated and not yet limited to what a viewer may see."""
        condition = self._condition(period, scope, now)
        if self.kind == MANUAL:
            qs = ManualKpiValue.objects.filter(
                kpi=self.manual_kpi, period_start__lt=period.end
            ).select_related("entered_by")
        elif self.kind == LEADS:
            qs = Lead.objects.filter(condition).select_related(
                "company", "first_touch_campaign", "persona", "owner"
            )
        elif self.kind == STAGE_CHANGES:
            # the distinct leads whose changes the measures count (the number counts people), each with its
            # latest change of the period
            changes = LifecycleChange.objects.filter(condition)
            latest = changes.filter(lead=OuterRef("pk")).order_by("-at", "-id")
            qs = (
                Lead.objects.filter(pk__in=changes.values("lead_id"))
                .select_related("company", "owner")
                .annotate(changed_at=Subquery(latest.values("at")[:1]))
            )
        elif self.kind == HANDOFFS:
            qs = (
                Handoff.objects.filter(condition)
                .select_related("lead__company", "owner", "team", "campaign", "deal")
                .annotate(first_touch_seconds=SecondsBetween(F("first_touch_at"), F("assigned_at")))
            )
        elif self.kind == DEALS:
            qs = (
                Deal.objects.filter(condition)
                .select_related("company", "owner", "team", "first_touch_campaign", "stage")
                .annotate(cycle_seconds=SecondsBetween(F("closed_at"), F("created_at")))
            )
        elif self.kind == QUOTES:
            qs = Quote.objects.filter(condition).select_related("deal__company", "deal__owner")
        elif self.kind == VISITORS:
            return (
                Touch.objects.filter(condition)
                .values(visitor=VISITOR_KEY)
                .annotate(
                    views=Count("pk"),
                    first_seen=Min("occurred_at"),
                    last_seen=Max("occurred_at"),
                    lead_id=Max("lead_id"),
                )
                .order_by("-views", "visitor")
            )
        elif self.kind == COSTS:
            qs = CampaignCost.objects.filter(condition).select_related("campaign")
        elif self.kind == CUSTOMERS:
            return (
                Deal.objects.filter(condition)
                .values("company_id", "company__name")
                .annotate(
                    revenue=Sum("won_amount"),
                    deals=Count("pk"),
                    first_won=Min("closed_at"),
                    last_won=Max("closed_at"),
                )
                .order_by("-revenue", "company__name")
            )
        else:  # pragma: no cover - the registry test checks every kind
            raise ValueError(self.kind)
        if self.highlight:
            qs = qs.annotate(
                counted=ExpressionWrapper(
                    Case(
                        When(MEASURES_BY_NAME[self.highlight].row_condition(period, now, scope), then=True),
                        default=False,
                    ),
                    output_field=BooleanField(),
                )
            )
        return qs.order_by(*self.order_by) if self.order_by else qs


DRILLDOWNS: dict[str, Drilldown] = {
    "leads_created": Drilldown(LEADS, ("leads",), order_by=("-created_at", "-id")),
    "leads_became_customer": Drilldown(STAGE_CHANGES, ("new_customers",), order_by=("-changed_at", "-id")),
    "visitors": Drilldown(VISITORS, ("visitors",)),
    "handoffs_mql": Drilldown(HANDOFFS, ("handed_over",), order_by=("-mql_at", "-id")),
    "handoffs_cohort": Drilldown(
        HANDOFFS,
        ("handed_over",),
        highlight="handed_over_leads_to_deal",
        highlight_label=_("Became a deal"),
        order_by=("-mql_at", "-id"),
    ),
    "handoffs_accepted": Drilldown(HANDOFFS, ("accepted",), order_by=("-decided_at", "-id")),
    "handoffs_rejected": Drilldown(HANDOFFS, ("rejected",), order_by=("-decided_at", "-id")),
    "handoffs_decided": Drilldown(
        HANDOFFS,
        ("accepted", "rejected"),
        highlight="accepted",
        highlight_label=_("Accepted"),
        order_by=("-decided_at", "-id"),
    ),
    "handoffs_first_touched": Drilldown(
        HANDOFFS, ("first_touch_seconds",), order_by=("-first_touch_at", "-id")
    ),
    "handoffs_sla_due": Drilldown(
        HANDOFFS,
        ("sla_due",),
        highlight="sla_met",
        highlight_label=_("Touched in time"),
        order_by=("-sla_due_at", "-id"),
    ),
    "handoffs_sla_breached": Drilldown(
        HANDOFFS, ("sla_due",), exclude="sla_met", order_by=("-sla_due_at", "-id")
    ),
    "deals_created": Drilldown(DEALS, ("deals_created",), order_by=("-created_at", "-id")),
    "deals_created_marketing": Drilldown(
        DEALS, ("deals_created_marketing",), order_by=("-created_at", "-id")
    ),
    "deals_created_self_reported": Drilldown(
        DEALS, ("deals_created_self_reported",), order_by=("-created_at", "-id")
    ),
    "deals_won": Drilldown(DEALS, ("won",), order_by=("-closed_at", "-id")),
    "deals_won_marketing": Drilldown(DEALS, ("won_marketing",), order_by=("-closed_at", "-id")),
    "deals_won_year": Drilldown(DEALS, ("revenue_trailing_year",), order_by=("-closed_at", "-id")),
    "deals_lost": Drilldown(DEALS, ("lost",), order_by=("-closed_at", "-id")),
    "deals_closed": Drilldown(
        DEALS, ("won", "lost"), highlight="won", highlight_label=_("Won"), order_by=("-closed_at", "-id")
    ),
    "quotes_sent": Drilldown(QUOTES, ("quotes_sent",), order_by=("-sent_at", "-id")),
    "quotes_sent_cohort": Drilldown(
        QUOTES,
        ("quotes_sent",),
        highlight="quotes_sent_accepted",
        highlight_label=_("Accepted"),
        order_by=("-sent_at", "-id"),
    ),
    "quotes_accepted": Drilldown(QUOTES, ("quotes_accepted",), order_by=("-decided_at", "-id")),
    "costs": Drilldown(COSTS, ("cost",), order_by=("-date", "-id")),
    "customers": Drilldown(CUSTOMERS, ("lifetime_revenue",)),
    "manual_brand_awareness": Drilldown(MANUAL, manual_kpi="brand_awareness", order_by=("-period_start",)),
    "manual_market_size": Drilldown(MANUAL, manual_kpi="market_size", order_by=("-period_start",)),
}
