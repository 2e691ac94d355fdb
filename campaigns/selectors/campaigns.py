"""The campaign list and a campaign's page: numbers from the roll-ups, costs and handoffs, in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext as _

from campaigns.models import (
    REASON_COLUMNS,
    VERDICT_MONTH_ZONE,
    AttributionCredit,
    AttributionDay,
    AttributionModel,
    AttributionMonth,
    CampaignCost,
    CampaignCostMonth,
    CampaignVerdictMonth,
    ConversionKind,
)
from campaigns.periods import Period
from campaigns.selectors.common import (
    COUNTS,
    LEADS_PAGE_SIZE,
    METRICS,
    PAGE_SIZE,
    REASON_LABELS,
    MonthSplit,
    Numbers,
    as_date,
    metric_columns,
    numbers_from,
    trunc_to_bucket,
)
from leads import ratios
from leads.models import Campaign, Handoff, Lead, Touch
from salesmarketing.models import User
from salesmarketing.replica import reads_from_replica

# --- Campaign list -------------------------------------------------------------------------------------------

# CampaignVerdictMonth's counts, and when a handoff adds one to each (its state is accepted or rejected).
VERDICT_COLUMNS = ["accepted", "rejected", *REASON_COLUMNS.values()]
VERDICT_CASES = [
    f"state = '{Handoff.State.ACCEPTED}'",
    f"state = '{Handoff.State.REJECTED}'",
    *(f"state = '{Handoff.State.REJECTED}' AND reject_reason = '{reason}'" for reason in REASON_COLUMNS),
]


SORT_SQL = {
    "start": "c.start_date",
    "name": "c.name",
    **{
        key: f"n.m_{key}"
        for key in (
            "spend",
            "leads",
            "mqls",
            "deals",
            "revenue",
            "cpl",
            "cost_per_mql",
            "cost_per_deal",
            "roi",
            "acceptance",
        )
    },
}


# The ratios the list sorts by, as SQL over the page's numbers (n.m_<role>): leads.ratios' definitions.
RATIO_SQL = ",\n                   ".join(
    f"{definition.sql(lambda role: f'n.m_{role}')} AS m_{key}"
    for key, definition in (
        ("cpl", ratios.CPL),
        ("cost_per_mql", ratios.COST_PER_MQL),
        ("cost_per_deal", ratios.COST_PER_DEAL),
        ("roi", ratios.ROI),
        ("acceptance", ratios.ACCEPTANCE),
    )
)


def _campaign_page_sql(
    *, period: Period, model: str, where: str, where_params: list, sort: str, limit: int, offset: int
) -> tuple[str, list]:
    """One page of campaigns with the period's numbers under `model`, won revenue under every model and the cost
    ratios, sorted in SQL. Each source is aggregated once (the period's attribution, costs and sales' verdicts: its
    whole months from the monthly roll-ups, the days around them from the daily rows or the handoffs) and joined to
    the campaigns: a thousand campaigns over a year stay a few tens of milliseconds. Each row also carries the
    totals over every matching campaign (`total_m_<name>`, window sums of the same numbers), so the list's totals
    line costs no statement of its own, and its campaign's rejections by reason (`rejected_<reason>`)."""
    q = connection.ops.quote_name
    columns = metric_columns(model)
    day_cols = [f"SUM({q(column)}) AS {name}" for name, column in columns.items()] + [
        f"SUM({q(f'revenue_{m}')}) AS revenue_{m}" for m in AttributionModel.values
    ]
    numbers = [f"COALESCE(d.{name}, 0) AS m_{name}" for name in columns] + [
        f"COALESCE(d.revenue_{m}, 0) AS m_revenue_{m}" for m in AttributionModel.values
    ]
    read = ", ".join(
        q(c) for c in dict.fromkeys([*columns.values(), *(f"revenue_{m}" for m in AttributionModel.values)])
    )
    split = MonthSplit.of(period)
    month_where, month_params = split.month_sql("month")
    day_where, day_params = split.day_sql("date")
    cost_month_where, cost_month_params = split.month_sql("month")
    cost_day_where, cost_day_params = split.day_sql("date")
    # Sales' verdicts: whole months from their roll-up while its months are the period's, the rest from the handoffs.
    verdicts = split if settings.TIME_ZONE == VERDICT_MONTH_ZONE else MonthSplit.edges_only(period)
    verdict_month_where, verdict_month_params = verdicts.month_sql("month")
    verdict_day_where, verdict_day_params = verdicts.edge_times_sql("decided_at")
    key = sort.lstrip("-")
    direction = "DESC" if sort.startswith("-") else "ASC"
    # The period's whole months from the monthly roll-ups (attribution, costs), its other days from the daily rows.
    sql = f"""
        WITH d AS (
            SELECT campaign_id, {", ".join(day_cols)}
            FROM (
                SELECT campaign_id, {read} FROM {q(AttributionMonth._meta.db_table)}
                WHERE {month_where} AND campaign_id IS NOT NULL
                UNION ALL
                SELECT campaign_id, {read} FROM {q(AttributionDay._meta.db_table)}
                WHERE {day_where} AND campaign_id IS NOT NULL
            ) x
            GROUP BY campaign_id
        ),
        s AS (
            SELECT campaign_id, SUM(amount) AS spend FROM (
                SELECT campaign_id, amount FROM {q(CampaignCostMonth._meta.db_table)} WHERE {cost_month_where}
                UNION ALL
                SELECT campaign_id, amount FROM {q(CampaignCost._meta.db_table)} WHERE {cost_day_where}
            ) x
            GROUP BY campaign_id
        ),
        v AS (
            SELECT campaign_id, {", ".join(f"SUM({c}) AS {c}" for c in VERDICT_COLUMNS)}
            FROM (
                SELECT campaign_id, {", ".join(VERDICT_COLUMNS)} FROM {q(CampaignVerdictMonth._meta.db_table)}
                WHERE {verdict_month_where}
                UNION ALL
                SELECT campaign_id, {", ".join(f"CASE WHEN {when} THEN 1 ELSE 0 END" for when in VERDICT_CASES)}
                FROM {q(Handoff._meta.db_table)}
                WHERE {verdict_day_where} AND campaign_id IS NOT NULL
                      AND state IN ('{Handoff.State.ACCEPTED}', '{Handoff.State.REJECTED}')
            ) x
            GROUP BY campaign_id
        ),
        n AS (
            SELECT c.id, COALESCE(CAST(s.spend AS DOUBLE PRECISION), 0) AS m_spend, COALESCE(v.accepted, 0) AS m_accepted,
                   COALESCE(v.rejected, 0) AS m_rejected, {", ".join(f"v.{c}" for c in REASON_COLUMNS.values())},
                   {", ".join(numbers)}
            FROM {q(Campaign._meta.db_table)} c
            LEFT JOIN d ON d.campaign_id = c.id
            LEFT JOIN s ON s.campaign_id = c.id
            LEFT JOIN v ON v.campaign_id = c.id
            WHERE {where}
        ),
        r AS (
            SELECT n.*,
                   {RATIO_SQL}
            FROM n
        )
        SELECT c.*, n.m_spend, n.m_accepted, n.m_rejected, {", ".join(f"n.m_{name}" for name in columns)},
               {", ".join(f"n.m_revenue_{m}" for m in AttributionModel.values)},
               n.m_cpl, n.m_cost_per_mql, n.m_cost_per_deal, n.m_roi, n.m_acceptance,
               (SELECT SUM(amount) FROM {q(CampaignCostMonth._meta.db_table)} WHERE campaign_id = c.id)
                   AS m_lifetime_spend,  -- against the budget: for the page's rows only (by index)
               {", ".join(f"n.{c}" for c in REASON_COLUMNS.values())},
               {", ".join(f"SUM(n.{name}) OVER () AS total_{name}" for name in _total_columns(model))}
        FROM r n JOIN {q(Campaign._meta.db_table)} c ON c.id = n.id
        ORDER BY {SORT_SQL.get(key, "c.start_date")} {direction} NULLS LAST, c.id DESC
        LIMIT %s OFFSET %s
    """
    params = [
        *month_params,
        *day_params,
        *cost_month_params,
        *cost_day_params,
        *verdict_month_params,
        *verdict_day_params,
        *where_params,
        limit,
        offset,
    ]
    return sql, params


def _total_columns(model: str) -> list[str]:
    """The numbers the totals line adds up, as numbers_from reads them (`m_<name>`)."""
    return [
        "m_spend",
        "m_accepted",
        "m_rejected",
        *(f"m_{name}" for name in metric_columns(model)),
        *(f"m_revenue_{m}" for m in AttributionModel.values),
    ]


@dataclass
class CampaignRow:
    campaign: Campaign
    numbers: Numbers
    top_reason: tuple[Promise | str, int] | None


@dataclass
class CampaignTable:
    page: Page
    rows: list[CampaignRow]
    totals: Numbers
    no_campaign: Numbers | None
    sort: str


class _CountedPaginator(Paginator):
    """A paginator told its count: counting the annotated query would aggregate every campaign a second time."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


@reads_from_replica()
def campaign_table(
    *, period: Period, model: str, sort: str, channel: str = "", status: str = "", q: str = "", page_number=1
) -> CampaignTable:
    """One page of the campaign list: the count; the page's rows with the totals over every matching campaign
    and each row's top rejection reason; the "no campaign" line (three queries)."""
    base = Campaign.objects.all()
    where, where_params = ["1 = 1"], []
    if channel:
        base = base.filter(channel=channel)
        where.append("c.channel = %s")
        where_params.append(channel)
    if status:
        base = base.filter(status=status)
        where.append("c.status = %s")
        where_params.append(status)
    if q.strip():
        base = base.filter(Q(name__icontains=q.strip()) | Q(utm_campaign__icontains=q.strip()))
        pattern = "%" + q.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(UPPER(c.name) LIKE %s ESCAPE '\\' OR UPPER(c.utm_campaign) LIKE %s ESCAPE '\\')")
        where_params += [pattern, pattern]
    paginator = _CountedPaginator([], PAGE_SIZE, count=base.count())
    page = paginator.get_page(page_number)
    sql, params = _campaign_page_sql(
        period=period,
        model=model,
        where=" AND ".join(where),
        where_params=where_params,
        sort=sort,
        limit=PAGE_SIZE,
        offset=(page.number - 1) * PAGE_SIZE,
    )
    campaigns = list(Campaign.objects.raw(sql, params))
    page.object_list = campaigns
    no_campaign = None
    if not (channel or status or q):
        no_campaign = numbers_from(no_campaign_numbers(period=period, model=model))
    return CampaignTable(
        page=page,
        rows=[CampaignRow(c, numbers_from(c), _top_reason(c)) for c in campaigns],
        # Every matching campaign's numbers added up (the page's window sums); none match, nothing to add.
        totals=numbers_from(
            {name: getattr(campaigns[0], f"total_{name}") for name in _total_columns(model)}
            if campaigns
            else {}
        ),
        no_campaign=no_campaign,
        sort=sort,
    )


def _top_reason(campaign: Campaign) -> tuple[Promise | str, int] | None:
    """The campaign's most frequent rejection reason in the period and how often sales gave it (ties: in the
    reasons' order by code, so the page reads the same on every load)."""
    minus_n, reason = min(
        (-int(getattr(campaign, column) or 0), reason) for reason, column in REASON_COLUMNS.items()
    )
    return (REASON_LABELS[reason], -minus_n) if minus_n else None


def no_campaign_numbers(*, period: Period, model: str) -> dict:
    """Conversions whose journeys had no campaign touch (organic, direct, sales-sourced)."""
    return AttributionDay.objects.filter(
        campaign__isnull=True, date__gte=period.start, date__lte=period.end
    ).aggregate(**_day_sums(model))


def _day_sums(model: str) -> dict[str, Sum]:
    """The aggregates numbers_from reads (`m_<name>`): whole counts, credits, revenue under every model."""
    return {f"m_{name}": Sum(column) for name, column in metric_columns(model).items()} | {
        f"m_revenue_{m}": Sum(f"revenue_{m}") for m in AttributionModel.values
    }


# --- Campaign detail -----------------------------------------------------------------------------------------


@dataclass
class CampaignDetail:
    campaign: Campaign
    numbers: Numbers
    by_model: list[dict]  # one row per conversion kind, a column per model
    chart: dict
    reasons: list[dict]
    rejections: list[Handoff]
    costs: list[CampaignCost]
    spend_total: float
    open_handoffs: int


def campaign_detail(*, campaign: Campaign, period: Period, model: str) -> CampaignDetail:
    days = AttributionDay.objects.filter(campaign=campaign, date__gte=period.start, date__lte=period.end)
    sums = days.aggregate(**{f"{k}_{m}": Sum(f"{k}_{m}") for k in METRICS for m in AttributionModel.values})
    spend = CampaignCost.objects.filter(
        campaign=campaign, date__gte=period.start, date__lte=period.end
    ).aggregate(total=Sum("amount"))["total"]
    lo, hi = period.bounds()
    handoffs = Handoff.objects.filter(campaign=campaign)
    verdicts = handoffs.filter(decided_at__gte=lo, decided_at__lt=hi).aggregate(
        accepted=Count("id", filter=Q(state=Handoff.State.ACCEPTED)),
        rejected=Count("id", filter=Q(state=Handoff.State.REJECTED)),
    )
    spend_total = float(campaign.costs.aggregate(total=Sum("amount"))["total"] or 0)
    numbers = Numbers(
        spend=float(spend or 0),
        accepted=verdicts["accepted"],
        rejected=verdicts["rejected"],
        **{name: sums[column] or 0 for name, column in metric_columns(model).items() if name in METRICS},
        revenue_by_model={m: sums[f"revenue_{m}"] or 0 for m in AttributionModel.values},
        credit={metric: sums[f"{metric}_{model}"] or 0 for metric in COUNTS},
        budget=float(campaign.budget or 0),
        lifetime_spend=spend_total,
    )
    labels = {
        "leads": _("Leads"),
        "mqls": _("MQLs"),
        "sqls": _("Accepted by sales"),
        "deals": _("Deals"),
        "won": _("Won deals"),
        "revenue": _("Won revenue"),
    }
    by_model = [
        {
            "key": metric,
            "label": labels[metric],
            "money": metric == "revenue",
            "values": [(m, sums[f"{metric}_{m}"] or 0) for m in AttributionModel.values],
        }
        for metric in METRICS
    ]
    reasons_rows = list(
        handoffs.filter(state=Handoff.State.REJECTED, decided_at__gte=lo, decided_at__lt=hi)
        .order_by()
        .values("reject_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reject_reason")
    )
    rejected = sum(r["n"] for r in reasons_rows)
    reasons = [
        {
            "label": REASON_LABELS.get(r["reject_reason"], r["reject_reason"]),
            "n": r["n"],
            "share": r["n"] / rejected,
        }
        for r in reasons_rows
    ]
    rejections = list(
        handoffs.filter(state=Handoff.State.REJECTED, decided_at__gte=lo, decided_at__lt=hi)
        .exclude(reject_note="")
        .select_related("lead", "decided_by")
        .order_by("-decided_at")[:6]
    )
    costs = list(
        campaign.costs.filter(date__gte=period.start, date__lte=period.end).order_by("-date", "-id")[:100]
    )
    return CampaignDetail(
        campaign=campaign,
        numbers=numbers,
        by_model=by_model,
        chart=_campaign_chart(campaign=campaign, period=period, model=model),
        reasons=reasons,
        rejections=rejections,
        costs=costs,
        spend_total=spend_total,
        open_handoffs=handoffs.filter(state__in=Handoff.OPEN_STATES).count(),
    )


def _campaign_chart(*, campaign: Campaign, period: Period, model: str) -> dict:
    """Leads, MQLs and deals per day / week / month as bars, spend as a line on its own axis."""
    starts = period.bucket_starts()
    index = {start: i for i, start in enumerate(starts)}
    series = {key: [0.0] * len(starts) for key in ("leads", "mqls", "deals", "spend")}
    for row in (
        AttributionDay.objects.filter(campaign=campaign, date__gte=period.start, date__lte=period.end)
        .annotate(bucket=trunc_to_bucket(period, "date"))
        .order_by()
        .values("bucket")
        .annotate(
            leads=Sum(metric_columns(model)["leads"]),
            mqls=Sum(metric_columns(model)["mqls"]),
            deals=Sum(metric_columns(model)["deals"]),
        )
    ):
        i = index.get(as_date(row["bucket"]))
        if i is not None:
            for key in ("leads", "mqls", "deals"):
                series[key][i] = round(row[key] or 0, 2)
    for cost in (
        campaign.costs.filter(date__gte=period.start, date__lte=period.end)
        .annotate(bucket=trunc_to_bucket(period, "date"))
        .order_by()
        .values("bucket")
        .annotate(total=Sum("amount"))
    ):
        i = index.get(as_date(cost["bucket"]))
        if i is not None:
            series["spend"][i] = float(cost["total"] or 0)
    # Spend is entered in lumps (a month's ads, a booth fee): the running total reads better than spikes.
    running = 0.0
    for i, amount in enumerate(series["spend"]):
        running += amount
        series["spend"][i] = running
    return {
        "type": "bar",
        "data": {
            "labels": [period.bucket_label(s) for s in starts],
            "datasets": [
                {"label": _("Leads"), "data": series["leads"], "yAxisID": "y", "color": "#1d4ed8"},
                {"label": _("MQLs"), "data": series["mqls"], "yAxisID": "y", "color": "#f59e0b"},
                {"label": _("Deals"), "data": series["deals"], "yAxisID": "y", "color": "#10b981"},
                {
                    "label": _("Spend in the period, cumulative (JPY)"),
                    "data": series["spend"],
                    "type": "line",
                    "yAxisID": "spend",
                    "color": "#64748b",
                    "stepped": True,
                    "pointRadius": 0,
                    "fill": False,
                },
            ],
        },
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "scales": {
                "y": {"beginAtZero": True, "title": {"display": True, "text": _("People")}},
                "spend": {
                    "beginAtZero": True,
                    "position": "right",
                    "grid": {"drawOnChartArea": False},
                    "title": {"display": True, "text": _("Spend (JPY)")},
                },
            },
            "plugins": {"legend": {"position": "bottom"}},
        },
    }


def campaign_leads(*, campaign: Campaign, viewer: User, tab: str, period: Period, page_number=1) -> Page:
    """The campaign's leads the viewer may see, in the period the page shows: those it brought in (credited to it
    by first touch for a lead created in the period: the page's whole lead count) or all it touched then."""
    leads = Lead.objects.visible_to(viewer).select_related("company", "persona", "owner")
    lo, hi = period.bounds()
    if tab == "touched":
        touched = Touch.objects.filter(
            campaign=campaign, lead=OuterRef("pk"), occurred_at__gte=lo, occurred_at__lt=hi
        )
        qs = leads.filter(Exists(touched)).order_by(F("last_touch_at").desc(nulls_last=True), "-id")
    else:  # the ledger the header's whole count sums, so the two agree
        credited = AttributionCredit.objects.filter(
            kind=ConversionKind.LEAD,
            campaign=campaign,
            first__gt=0,
            date__gte=period.start,
            date__lte=period.end,
        )
        qs = leads.filter(pk__in=credited.values("lead_id")).order_by("-created_at", "-id")
    return Paginator(qs, LEADS_PAGE_SIZE).get_page(page_number)
