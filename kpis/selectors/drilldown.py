"""A KPI's drill-down: the records behind a number, limited to what the viewer may list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, QuerySet, Value
from django.utils import timezone
from django.utils.functional import Promise

from kpis.periods import Period
from kpis.registry import KPI_BY_KEY, Kpi, Number, Scope, compute
from kpis.registry.drilldowns import DEALS, DRILLDOWNS, HANDOFFS, LEADS, QUOTES, STAGE_CHANGES
from leads.models import Lead
from pipeline.models import Deal, DealQuerySet
from salesmarketing.models import Team, User
from salesmarketing.replica import reads_from_replica

DRILLDOWN_PAGE_SIZE = 50


# --- drill-down ---------------------------------------------------------------------------------------------


def restrict_to_viewer(kind: str, rows: QuerySet, viewer: User) -> tuple[QuerySet, bool]:
    """The rows a viewer may list, and whether some were left out; the number itself stays the shared one.

    The numbers are shared, so managers, marketing and admins list every record behind them; a sales rep lists
    the ones the rest of the app shows them (their own deals and handoffs, their team's leads). A deal the
    viewer cannot open is listed without a link (`can_open`).
    """
    is_rep = viewer.role == User.Role.SALES and not viewer.is_superuser
    if kind in (LEADS, STAGE_CHANGES) and is_rep:
        return rows.filter(pk__in=Lead.objects.visible_to(viewer).values("pk")), True
    if kind == HANDOFFS and is_rep:
        return rows.filter(owner=viewer), True
    if kind == DEALS:
        visible = Deal.objects.visible_to(viewer)
        if is_rep:
            return rows.filter(pk__in=visible.values("pk")).annotate(can_open=Value(True)), True
        assert isinstance(rows, DealQuerySet)  # the deals drill-downs list Deal.objects' rows
        return rows.with_can_open(viewer), False
    if kind == QUOTES:  # a quote opens for whoever may read its deal
        readable = Deal.objects.readable_by(viewer)
        if is_rep:
            return rows.filter(deal__in=readable.values("pk")).annotate(can_open=Value(True)), True
        return rows.annotate(can_open=Exists(readable.filter(pk=OuterRef("deal_id")))), False
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
    highlight_label: Promise | str | None
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
