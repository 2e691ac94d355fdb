"""The marketers' dashboard: one selector, a fixed number of queries, every number from a roll-up or an indexed
aggregate (AttributionDay, SegmentDay, handoffs decided in the period, costs) — never a scan of the touches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    AttributionDay,
    AttributionMonth,
    AttributionState,
    AttributionWeek,
    CampaignCost,
    CampaignCostMonth,
    ConversionKind,
    Dimension,
    SegmentDay,
)
from campaigns.periods import Period
from campaigns.segments import SCORE_BANDS, SENIORITY_LABELS, SIZE_LABELS, UNKNOWN, warming_range
from campaigns.selectors.common import (
    REASON_LABELS,
    STEP_ORDER,
    MonthSplit,
    Numbers,
    as_date,
    trunc_to_bucket,
)
from leads import ratios
from leads.choices import AwarenessStage, Industry, LifecycleStage
from leads.models import Campaign, Handoff, Lead, Persona, ScoringConfig
from salesmarketing.models import User
from salesmarketing.replica import reads_from_replica
from salesmarketing.sql import aggregates_row, one_statement, rows_row

CHANNEL_COLORS: dict[str | None, str] = {
    Campaign.Channel.WEB_AD: "#1d4ed8",
    Campaign.Channel.SNS: "#ec4899",
    Campaign.Channel.SEO: "#10b981",
    Campaign.Channel.WHITEPAPER: "#f59e0b",
    Campaign.Channel.WEBINAR: "#8b5cf6",
    Campaign.Channel.SEMINAR: "#06b6d4",
    Campaign.Channel.TRADE_SHOW: "#ef4444",
    Campaign.Channel.EMAIL: "#84cc16",
    Campaign.Channel.OFFLINE: "#f97316",
    Campaign.Channel.REFERRAL: "#0ea5e9",
    Campaign.Channel.OTHER: "#a3a3a3",
}
NO_CAMPAIGN_COLOR = "#cbd5e1"
REASON_COLORS = ["#ef4444", "#f97316", "#f59e0b", "#a855f7", "#64748b", "#ec4899", "#0ea5e9", "#94a3b8"]
SEGMENT_COLORS = [
    "#1d4ed8",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#8b5cf6",
    "#06b6d4",
    "#84cc16",
    "#f97316",
    "#ec4899",
]
NURTURE = [LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD, LifecycleStage.RECYCLED]
FUNNEL_CAMPAIGNS = 10
QUALITY_CAMPAIGNS = 10
MAX_SEGMENTS = 8


@dataclass
class Dashboard:
    period: Period
    model: str
    dimension: str
    totals: Numbers
    no_campaign_leads: float
    campaign_cpl: float | None
    campaign_roi: float | None
    over_time: dict
    mql_over_time: dict
    funnel: list[FunnelRow]
    funnel_chart: dict
    quality: list[dict]
    quality_chart: dict
    persona_chart: dict
    awareness_chart: dict
    score_chart: dict
    config: ScoringConfig
    warming: list[Lead]
    warming_count: int
    warming_from: int
    who: dict
    state: AttributionState | None


def _bar_options(*, stacked: bool = False, horizontal: bool = False, percent: bool = False) -> dict:
    value_axis: dict = {"beginAtZero": True, "stacked": stacked}
    if percent:
        value_axis["max"] = 100
    category_axis = {"stacked": stacked}
    scales = {"x": value_axis, "y": category_axis} if horizontal else {"x": category_axis, "y": value_axis}
    options = {
        "scales": scales,
        "plugins": {"legend": {"position": "bottom"}},
        "interaction": {"mode": "index", "intersect": False},
    }
    if horizontal:
        options["indexAxis"] = "y"
    return options


def _channel_label(channel: str | None) -> str:
    return str(Campaign.Channel(channel).label) if channel else _("No campaign")


def _over_time_rows(period: Period, model: str) -> dict[str, QuerySet]:
    """Leads and MQLs by chart bucket and channel: whole weeks or months from their roll-ups (a bucket is one of
    their rows), the days around them from the daily rows (`_over_time` adds the parts up)."""
    if period.bucket == "day":
        return {
            "over_time": _over_time_sums(
                AttributionDay.objects.filter(date__gte=period.start, date__lte=period.end),
                period,
                "date",
                model,
            )
        }
    spans: QuerySet
    if period.bucket == "week":
        split, field = MonthSplit.weeks(period), "week"
        spans = AttributionWeek.objects.filter(split.month_q(field))
    else:
        split, field = MonthSplit.of(period), "month"
        spans = AttributionMonth.objects.filter(split.month_q(field))
    return {
        "over_time": _over_time_sums(spans, period, field, model),
        "over_time_days": _over_time_sums(
            AttributionDay.objects.filter(split.day_q("date")), period, "date", model
        ),
    }


def _over_time_sums(rows: QuerySet, period: Period, field: str, model: str) -> QuerySet:
    return (
        rows.annotate(bucket=trunc_to_bucket(period, field), channel=F("campaign__channel"))
        .order_by()
        .values("bucket", "channel")
        .annotate(leads=Sum(f"leads_{model}"), mqls=Sum(f"mqls_{model}"))
    )


def _over_time(period: Period, rows: list[dict]) -> tuple[dict, dict]:
    starts = period.bucket_starts()
    index = {start: i for i, start in enumerate(starts)}
    leads: dict[str | None, list[float]] = {}
    mqls: dict[str | None, list[float]] = {}
    for row in rows:
        i = index.get(as_date(row["bucket"]))
        if i is None:
            continue
        leads.setdefault(row["channel"], [0.0] * len(starts))[i] += row["leads"] or 0
        mqls.setdefault(row["channel"], [0.0] * len(starts))[i] += row["mqls"] or 0
    order = [c for c in Campaign.Channel.values if c in leads] + ([None] if None in leads else [])
    labels = [period.bucket_label(s) for s in starts]

    def chart(series: dict, kind: str) -> dict:
        datasets: list[dict[str, Any]] = [
            {
                "label": _channel_label(channel),
                "data": [round(v, 2) for v in series.get(channel, [0.0] * len(starts))],
                "color": CHANNEL_COLORS.get(channel, NO_CAMPAIGN_COLOR),
            }
            for channel in order
        ]
        if kind == "line":
            for dataset in datasets:
                dataset |= {"fill": False, "tension": 0.15, "pointRadius": 2}
            return {
                "type": "line",
                "data": {"labels": labels, "datasets": datasets},
                "options": _bar_options(),
            }
        return {
            "type": "bar",
            "data": {"labels": labels, "datasets": datasets},
            "options": _bar_options(stacked=True),
        }

    return chart(leads, "bar"), chart(mqls, "line")


class FunnelRow(TypedDict):
    """One campaign's funnel on the dashboard: counts (attribution credits) and each step's share of its leads."""

    campaign_id: int
    name: str
    channel: str
    leads: float
    mqls: float
    sqls: float
    deals: float
    won: float
    revenue: float
    mql_rate: float | None
    sql_rate: float | None
    deal_rate: float | None
    won_rate: float | None


def _percent(share: float | None) -> float:
    return round(100 * share, 1) if share is not None else 0


def _funnel_row(r: Mapping[str, Any]) -> FunnelRow:
    leads = r["leads"] or 0

    def rate(key: str) -> float | None:
        return (r[key] or 0) / leads if leads else None

    return FunnelRow(
        campaign_id=r["campaign_id"],
        name=r["campaign__name"],
        channel=_channel_label(r["campaign__channel"]),
        leads=leads,
        mqls=r["mqls"] or 0,
        sqls=r["sqls"] or 0,
        deals=r["deals"] or 0,
        won=r["won"] or 0,
        revenue=r["revenue"] or 0,
        mql_rate=rate("mqls"),
        sql_rate=rate("sqls"),
        deal_rate=rate("deals"),
        won_rate=rate("won"),
    )


def _funnel_rows(split: MonthSplit, model: str) -> dict[str, QuerySet]:
    """The period's attribution by campaign: its whole months from the monthly roll-up, the days around them from
    the daily one (added up by `_funnel_merge`)."""
    return {
        "funnel_months": _funnel_sums(AttributionMonth.objects.filter(split.month_q("month")), model),
        "funnel_days": _funnel_sums(AttributionDay.objects.filter(split.day_q("date")), model),
    }


def _funnel_sums(rows: QuerySet, model: str) -> QuerySet:
    return (
        rows.order_by()
        .values("campaign_id", "campaign__name", "campaign__channel")
        .annotate(
            leads=Sum(f"leads_{model}"),
            mqls=Sum(f"mqls_{model}"),
            sqls=Sum(f"sqls_{model}"),
            deals=Sum(f"deals_{model}"),
            won=Sum(f"won_{model}"),
            revenue=Sum(f"revenue_{model}"),
        )
    )


FUNNEL_SUMS = ("leads", "mqls", "sqls", "deals", "won", "revenue")


def _funnel_merge(*parts: list[dict]) -> list[dict]:
    """One row per campaign (None: no campaign) from the months' rows and the days' rows."""
    merged: dict[int | None, dict] = {}
    for rows in parts:
        for row in rows:
            entry = merged.get(row["campaign_id"])
            if entry is None:
                merged[row["campaign_id"]] = dict(row)
            else:
                for key in FUNNEL_SUMS:
                    entry[key] = (entry[key] or 0) + (row[key] or 0)
    return list(merged.values())


def _funnel(rows: list[dict]) -> tuple[list[FunnelRow], dict, dict]:
    """Top campaigns by leads in the period, each with its funnel; and the period's totals."""
    totals = {
        key: sum(r[key] or 0 for r in rows) for key in ("leads", "mqls", "sqls", "deals", "won", "revenue")
    }
    totals["campaign_leads"] = sum(r["leads"] or 0 for r in rows if r["campaign_id"])
    totals["campaign_revenue"] = sum(r["revenue"] or 0 for r in rows if r["campaign_id"])
    top = sorted(  # ties by name, then id: the same ten whichever order the parts came in
        (r for r in rows if r["campaign_id"]),
        key=lambda r: (-(r["leads"] or 0), r["campaign__name"] or "", r["campaign_id"]),
    )[:FUNNEL_CAMPAIGNS]
    funnel = [_funnel_row(r) for r in top]
    rates = [
        ("mql_rate", _("Lead → MQL"), "#f59e0b"),
        ("sql_rate", _("Lead → accepted by sales"), "#8b5cf6"),
        ("deal_rate", _("Lead → deal"), "#10b981"),
        ("won_rate", _("Lead → won"), "#15803d"),
    ]
    chart = {
        "type": "bar",
        "data": {
            "labels": [f["name"] for f in funnel],
            "datasets": [
                {
                    "label": str(label),
                    "data": [_percent(f[key]) for f in funnel],  # type: ignore[literal-required]
                    "color": color,
                }
                for key, label, color in rates
            ],
        },
        "options": _bar_options(horizontal=True)
        | {
            "scales": {
                "x": {
                    "beginAtZero": True,
                    "title": {"display": True, "text": _("Share of the campaign's leads (%)")},
                }
            }
        },
    }
    return funnel, chart, totals


def _quality_rows(period: Period) -> QuerySet:
    lo, hi = period.bounds()
    return (
        Handoff.objects.filter(
            decided_at__gte=lo, decided_at__lt=hi, state__in=[Handoff.State.ACCEPTED, Handoff.State.REJECTED]
        )
        .order_by()
        .values("campaign_id", "campaign__name", "state", "reject_reason")
        .annotate(n=Count("id"))
    )


def _quality(rows: list[dict]) -> tuple[list[dict], dict, tuple[int, int]]:
    """Sales' verdicts on handoffs decided in the period, by the lead's first-touch campaign."""
    by_campaign: dict[int | None, dict] = {}
    for row in rows:
        entry = by_campaign.setdefault(
            row["campaign_id"],
            {
                "campaign_id": row["campaign_id"],
                "name": row["campaign__name"] or _("No campaign"),
                "accepted": 0,
                "rejected": 0,
                "reasons": {},
            },
        )
        if row["state"] == Handoff.State.ACCEPTED:
            entry["accepted"] += row["n"]
        else:
            entry["rejected"] += row["n"]
            entry["reasons"][row["reject_reason"]] = entry["reasons"].get(row["reject_reason"], 0) + row["n"]
    accepted = sum(e["accepted"] for e in by_campaign.values())
    rejected = sum(e["rejected"] for e in by_campaign.values())
    rows = sorted(by_campaign.values(), key=lambda e: (-(e["accepted"] + e["rejected"]), e["name"]))[
        :QUALITY_CAMPAIGNS
    ]
    for entry in rows:
        decided = entry["accepted"] + entry["rejected"]
        entry["decided"] = decided
        entry["rate"] = entry["accepted"] / decided if decided else None
        ranked = sorted(entry["reasons"].items(), key=lambda kv: -kv[1])
        entry["top_reasons"] = [(REASON_LABELS.get(k, k), n) for k, n in ranked[:3]]
    reasons = [r for r in Handoff.RejectReason.values if any(r in e["reasons"] for e in rows)]
    datasets = [{"label": _("Accepted"), "data": [e["accepted"] for e in rows], "color": "#10b981"}] + [
        {
            "label": f"{_('Rejected')}: {REASON_LABELS[reason]}",
            "data": [e["reasons"].get(reason, 0) for e in rows],
            "color": REASON_COLORS[i % len(REASON_COLORS)],
        }
        for i, reason in enumerate(reasons)
    ]
    chart = {
        "type": "bar",
        "data": {"labels": [e["name"] for e in rows], "datasets": datasets},
        "options": _bar_options(stacked=True, horizontal=True),
    }
    return rows, chart, (accepted, rejected)


def _labels_for(dimension: str, personas: dict[int, str]) -> dict[str, str]:
    if dimension == Dimension.PERSONA:
        return {str(pk): name for pk, name in personas.items()} | {UNKNOWN: _("No persona")}
    if dimension == Dimension.AWARENESS:
        return {k: str(v) for k, v in AwarenessStage.choices} | {UNKNOWN: _("Unknown")}
    if dimension == Dimension.SENIORITY:
        return {k: str(v) for k, v in SENIORITY_LABELS.items()}
    if dimension == Dimension.INDUSTRY:
        return {k: str(v) for k, v in Industry.choices} | {UNKNOWN: _("Unknown")}
    return {k: str(v) for k, v in SIZE_LABELS.items()}


def _doughnut(values: dict[str, float], labels: dict[str, str], order: list[str] | None = None) -> dict:
    """A doughnut whose legend says each slice's count and share ("部長クラス 12 (34%)"): the values are read
    without hovering (or seeing) the chart."""
    keys = order or sorted(values, key=lambda k: -values[k])
    keys = [k for k in keys if values.get(k)]
    total = sum(values[k] for k in keys)
    return {
        "type": "doughnut",
        "data": {
            "labels": [
                _("%(label)s %(count)s (%(share)s%%)")
                % {
                    "label": labels.get(k, k),
                    "count": formats.number_format(round(values[k]), force_grouping=True),
                    "share": round(100 * values[k] / total),
                }
                for k in keys
            ],
            "datasets": [
                {
                    "label": _("Leads"),
                    "data": [values[k] for k in keys],
                    "colors": [
                        SEGMENT_COLORS[i % len(SEGMENT_COLORS)] if k else NO_CAMPAIGN_COLOR
                        for i, k in enumerate(keys)
                    ],
                }
            ],
        },
        "options": {
            "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 12}}},
            "cutout": "55%",
        },
    }


def _who_visits(segments: list[dict], dimension: str, labels: dict[str, str]) -> dict:
    """The mix of the chosen dimension at each funnel step. Shares are of people whose value is known; the
    unknown (anonymous visitors, missing titles …) are counted beside them."""
    counts: dict[str, dict[str, int]] = {}
    for row in segments:
        if row["dimension"] == dimension:
            counts.setdefault(row["step"], {})[row["value"]] = row["n"]
    steps = list(STEP_ORDER)
    known_totals = {s: sum(n for v, n in counts.get(s, {}).items() if v != UNKNOWN) for s in steps}
    unknown = {s: counts.get(s, {}).get(UNKNOWN, 0) for s in steps}
    overall: dict[str, int] = {}
    for step_counts in counts.values():
        for value, n in step_counts.items():
            if value != UNKNOWN:
                overall[value] = overall.get(value, 0) + n
    values = sorted(overall, key=lambda v: -overall[v])
    shown, rest = values[:MAX_SEGMENTS], values[MAX_SEGMENTS:]
    step_labels: dict[str, Any] = dict(ConversionKind.choices)

    def share(step: ConversionKind, value_list: list[str]) -> float | None:
        total = known_totals[step]
        if not total:
            return None
        return sum(counts.get(step, {}).get(v, 0) for v in value_list) / total

    rows: list[dict[str, Any]] = []
    for value in shown + (["__rest__"] if rest else []):
        members = rest if value == "__rest__" else [value]
        shares = [share(step, members) for step in steps]
        visit, won = shares[0], shares[-1]
        rows.append(
            {
                "label": _("Others") if value == "__rest__" else labels.get(value, value),
                "shares": shares,
                "counts": [sum(counts.get(step, {}).get(v, 0) for v in members) for step in steps],
                "lift": (won / visit) if visit and won is not None else None,
            }
        )
    chart = {
        "type": "bar",
        "data": {
            "labels": [str(step_labels[s]) for s in steps],
            "datasets": [
                {
                    "label": row["label"],
                    "data": [round(100 * s, 1) if s is not None else 0 for s in row["shares"]],
                    "color": SEGMENT_COLORS[i % len(SEGMENT_COLORS)] if i < MAX_SEGMENTS else "#94a3b8",
                }
                for i, row in enumerate(rows)
            ],
        },
        "options": _bar_options(stacked=True, horizontal=True, percent=True),
    }
    return {
        "steps": [step_labels[s] for s in steps],
        "rows": rows,
        "known": [known_totals[s] for s in steps],
        "unknown": [unknown[s] for s in steps],
        "chart": chart,
    }


def _scores(config: ScoringConfig, state: AttributionState | None) -> dict:
    """Leads in nurture and MQLs per score band, as the sweep last counted them (every few minutes)."""
    counts = state.score_bands if state is not None else {}
    labels = [f"{lo}–{hi - 1}" if hi is not None else f"{lo}+" for lo, hi in SCORE_BANDS]
    data = [counts.get(str(lo), 0) for lo, _hi in SCORE_BANDS]
    # Green: at or over the MQL threshold; amber: within 20 points of it (warming); grey: the rest.
    colors = [
        "#15803d"
        if lo >= config.total_threshold
        else ("#f59e0b" if hi is not None and hi > config.total_threshold - 20 else "#94a3b8")
        for lo, hi in SCORE_BANDS
    ]
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [{"label": _("Leads"), "data": data, "colors": colors}]},
        "options": {
            "plugins": {"legend": {"display": False}},
            "scales": {
                "y": {"beginAtZero": True, "title": {"display": True, "text": _("Leads")}},
                "x": {"title": {"display": True, "text": _("Score (fit + engagement)")}},
            },
        },
    }


def _segment_rows(period: Period, dimension: str) -> QuerySet:
    """People per value of a dimension at each step: new leads by persona and awareness (the doughnuts), and
    every step of the chosen dimension (who visits)."""
    return (
        SegmentDay.objects.filter(
            Q(step=ConversionKind.LEAD, dimension__in=[Dimension.PERSONA, Dimension.AWARENESS])
            | Q(dimension=dimension),
            date__gte=period.start,
            date__lte=period.end,
        )
        .order_by()
        .values("dimension", "step", "value")
        .annotate(n=Sum("people"))
    )


@reads_from_replica()
def marketing_dashboard(*, viewer: User, period: Period, model: str, dimension: str) -> Dashboard:
    """Every figure in four queries whatever the data: the attribution state; one statement for the charts
    (attribution by bucket and channel and by campaign, sales' verdicts, costs, personas, segments, each its own
    index range); the MQL threshold; the warming leads (with their count when the sweep's will not do)."""
    state = AttributionState.objects.filter(pk=1).first()
    split = MonthSplit.of(period)
    lists = {
        **_over_time_rows(period, model),
        **_funnel_rows(split, model),
        "quality": _quality_rows(period),
        "personas": Persona.objects.values("pk", "name"),
        "segments": _segment_rows(period, dimension),
    }
    # The period's spend: its whole months' sums and the cost lines of the days around them.
    spend_months = CampaignCostMonth.objects.filter(split.month_q("month"))
    spend_days = CampaignCost.objects.filter(split.day_q("date"))
    using = spend_days.db
    got = one_statement(
        [
            rows_row(lists, using=using),
            aggregates_row(spend_months, {"spend_months": Sum("amount")}),
            aggregates_row(spend_days, {"spend_days": Sum("amount")}),
        ]
    )
    rows = {name: got[name] for name in lists}
    over_time, mql_over_time = _over_time(period, rows["over_time"] + rows.get("over_time_days", []))
    funnel, funnel_chart, totals = _funnel(_funnel_merge(rows["funnel_months"], rows["funnel_days"]))
    quality, quality_chart, (accepted, rejected) = _quality(rows["quality"])
    spend = (got["spend_months"] or 0) + (got["spend_days"] or 0)
    personas = {row["pk"]: row["name"] for row in rows["personas"]}
    mix: dict[str, dict[str, float]] = {Dimension.PERSONA: {}, Dimension.AWARENESS: {}}
    for row in rows["segments"]:
        if row["step"] == ConversionKind.LEAD and row["dimension"] in mix:
            mix[row["dimension"]][row["value"]] = row["n"]
    config = ScoringConfig.get()
    warming_from, warming_to = warming_range(config.total_threshold)
    warming_qs = Lead.objects.visible_to(viewer).filter(
        lifecycle_stage__in=NURTURE, total_score__gte=warming_from, total_score__lt=warming_to
    )
    # How many are warming: the sweep's count when it was made for today's threshold and the viewer sees every
    # lead (a count over a million leads is not for every page view); otherwise counted now, beside the first ten
    # in the same query (a window over the rows before the LIMIT).
    bands = state.score_bands if state is not None else {}
    counted = (
        bands.get("warming_from") == warming_from
        and bands.get("warming_to") == warming_to
        and not Lead.all_objects.visible_to(viewer).query.has_filters()  # (Lead.objects drops merged leads)
    )
    if not counted:
        warming_qs = warming_qs.annotate(warming_total=Window(Count("pk")))
    warming = list(
        warming_qs.select_related("company", "persona").order_by(
            "-total_score", F("last_touch_at").desc(nulls_last=True)
        )[:10]
    )
    warming_count = bands["warming"] if counted else (warming[0].warming_total if warming else 0)
    week_ago = timezone.now() - dt.timedelta(days=7)
    for lead in warming:
        lead.gap = config.total_threshold - lead.total_score
        lead.fit_gap = max(0, config.fit_threshold - lead.fit_score)
        lead.active_this_week = bool(lead.last_touch_at and lead.last_touch_at >= week_ago)
    numbers = Numbers(
        spend=float(spend or 0),
        leads=totals["leads"],
        mqls=totals["mqls"],
        sqls=totals["sqls"],
        deals=totals["deals"],
        won=totals["won"],
        revenue=totals["revenue"],
        accepted=accepted,
        rejected=rejected,
    )
    campaign = {
        "spend": numbers.spend,
        "leads": totals["campaign_leads"],
        "revenue": totals["campaign_revenue"],
    }
    campaign_cpl = ratios.CPL.rounded(campaign)
    campaign_roi = ratios.ROI.rounded(campaign)
    return Dashboard(
        period=period,
        model=model,
        dimension=dimension,
        totals=numbers,
        no_campaign_leads=totals["leads"] - totals["campaign_leads"],
        campaign_cpl=campaign_cpl,
        campaign_roi=campaign_roi,
        over_time=over_time,
        mql_over_time=mql_over_time,
        funnel=funnel,
        funnel_chart=funnel_chart,
        quality=quality,
        quality_chart=quality_chart,
        persona_chart=_doughnut(mix[Dimension.PERSONA], _labels_for(Dimension.PERSONA, personas)),
        awareness_chart=_doughnut(
            mix[Dimension.AWARENESS],
            _labels_for(Dimension.AWARENESS, personas),
            order=[*AwarenessStage.values, UNKNOWN],
        ),
        score_chart=_scores(config, state),
        config=config,
        warming=warming,
        warming_count=warming_count,
        warming_from=warming_from,
        who=_who_visits(rows["segments"], dimension, _labels_for(dimension, personas)),
        state=state,
    )
