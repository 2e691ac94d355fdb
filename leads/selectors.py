"""Page-level reads for leads and companies. Each returns what one page shows, in a fixed number of queries."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, OrderBy, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from leads.custom_fields.selectors import CustomFilter, custom_filter_q
from leads.models import Handoff, Lead, ScoringConfig, Touch
from leads.scoring.engine import Contribution, explain, touch_points
from leads.search.query import Terms, leads_matching
from leads.services import ACCEPTABLE_FIELDS, SUBMITTED_KEY
from salesmarketing.replica import reads_from_replica

LEAD_SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "score": ("-total_score", "-id"),
    "-score": ("total_score", "id"),
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "last_touch": (
        F("last_touch_at").desc(nulls_last=True),
        "-id",
    ),  # never touched last; lead_last_touch_idx
    "name": ("name", "id"),
}
PAGE_SIZE = 50
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    lifecycle: str = ""
    awareness: str = ""
    owner: str = ""  # a user id, "me" or "none"
    campaign: int | None = None
    score_min: int | None = None
    score_max: int | None = None
    sort: str = "score"
    custom: tuple[CustomFilter, ...] = ()  # the custom fields' filters (GIN index on `custom`)


@reads_from_replica()
def lead_list(*, viewer, filters: LeadFilters, page_number: int | str = 1) -> Page:
    """One page of leads for the list: filters, sort and pagination in SQL (count + page rows)."""
    return Paginator(lead_filtered(viewer=viewer, filters=filters), PAGE_SIZE).get_page(page_number)


@reads_from_replica()
def lead_filtered(*, viewer, filters: LeadFilters) -> QuerySet[Lead]:
    """The leads the viewer may see that match the list's filters, in its order (the list and the CSV export)."""
    qs: QuerySet[Lead] = Lead.objects.visible_to(viewer).select_related(
        "company", "owner", "first_touch_campaign"
    )
    terms = Terms.parse(filters.q)
    if (
        terms.text
    ):  # the header search's matching (kana folded, a phone by its digits), and the company's name
        qs = leads_matching(qs, terms, "company__name")
    if filters.lifecycle:
        qs = qs.filter(lifecycle_stage=filters.lifecycle)
    if filters.awareness:
        qs = qs.filter(awareness_stage=filters.awareness)
    if filters.owner == "me":
        qs = qs.filter(owner=viewer)
    elif filters.owner == "none":
        qs = qs.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.campaign:
        qs = qs.filter(first_touch_campaign_id=filters.campaign)
    if filters.score_min is not None:
        qs = qs.filter(total_score__gte=filters.score_min)
    if filters.score_max is not None:
        qs = qs.filter(total_score__lte=filters.score_max)
    if filters.custom:
        qs = qs.filter(custom_filter_q(list(filters.custom)))
    return qs.order_by(*LEAD_SORTS.get(filters.sort, LEAD_SORTS["score"]))


@dataclass
class LeadDetail:
    lead: Lead
    timeline: list[Touch]
    timeline_truncated: bool
    handoffs: list[Handoff]
    visitor_ids: list[str]
    explanation: list[Contribution]
    score_history: dict
    submitted: list[SubmittedValue]


@dataclass
class SubmittedValue:
    """A value an unauthenticated capture sent that differs from what the lead has (the latest per field)."""

    field: str
    label: str
    value: str
    current: str
    touch_id: int
    occurred_at: dt.datetime


# How many of the lead's latest submissions the "Submitted values that differ" panel looks at.
SUBMISSIONS_LOOKED_AT = 20


def lead_submitted_differences(lead: Lead) -> list[SubmittedValue]:
    """Per field, the latest submitted value, when it differs from the lead's (one query)."""
    rows = (
        lead.touches.filter(properties__has_key=SUBMITTED_KEY)
        .order_by("-occurred_at", "-id")
        .values("pk", "occurred_at", "properties")[:SUBMISSIONS_LOOKED_AT]
    )
    found: dict[str, SubmittedValue] = {}
    seen: set[str] = set()  # only the latest value sent for a field counts: an older one is outdated
    for row in rows:
        submitted = row["properties"].get(SUBMITTED_KEY)
        if not isinstance(submitted, dict):
            continue
        for name in ACCEPTABLE_FIELDS:
            if name in seen:
                continue
            if name == "company":
                value, current, same = _submitted_company(lead, submitted)
            else:
                value, current = str(submitted.get(name) or ""), getattr(lead, name)
                same = value == current
            if value:
                seen.add(name)
            if value and not same:
                label = (
                    _("company")
                    if name == "company"
                    else getattr(Lead._meta.get_field(name), "verbose_name", name)
                )
                found[name] = SubmittedValue(
                    field=name,
                    label=str(label),
                    value=value,
                    current=current,
                    touch_id=row["pk"],
                    occurred_at=row["occurred_at"],
                )
    return [found[name] for name in ACCEPTABLE_FIELDS if name in found]


def _submitted_company(lead: Lead, submitted: dict) -> tuple[str, str, bool]:
    """(the submitted company as shown, the lead's, whether they are the same company: same domain or name)."""
    name, domain = str(submitted.get("company") or "").strip(), str(submitted.get("company_domain") or "")
    shown = f"{name} ({domain})" if name and domain else name or domain
    company = lead.company
    if company is None:
        return shown, "", False
    same = bool(domain and domain.lower() == company.domain.lower()) or bool(name and name == company.name)
    return shown, company.name, same


def lead_detail(*, lead: Lead) -> LeadDetail:
    touches = list(
        lead.touches.select_related("campaign").order_by("-occurred_at", "-id")[: TIMELINE_LIMIT + 1]
    )
    now = timezone.now()
    return LeadDetail(
        lead=lead,
        timeline=touches[:TIMELINE_LIMIT],
        timeline_truncated=len(touches) > TIMELINE_LIMIT,
        handoffs=list(lead.handoffs.select_related("owner", "team", "campaign")),
        visitor_ids=list(lead.visitors.values_list("visitor_id", flat=True)),
        explanation=explain([lead.pk], now=now)[lead.pk],
        score_history=_score_history_chart(lead, now),
        submitted=lead_submitted_differences(lead),
    )


def _score_history_chart(lead: Lead, now, weeks: int = 13) -> dict:
    """The lead's engagement at the end of each of the last `weeks` weeks, recomputed from its touches with the
    current rules (the same decay and caps as the scorer), with fit and the MQL line beside it."""
    # Decaying from t to `at` is decaying from t to now, then growing back by 2^((now − at) / half-life); so per
    # (group, half-life) one pass sorted by time gives prefix sums, and each week's point is a lookup.
    buckets: dict[tuple, list] = defaultdict(list)
    caps = {}
    for row in touch_points(lead.pk, now=now):
        group = row["group_id"] or -row["rule_id"]
        caps[group] = row["cap"]
        age_days = (now - row["occurred_at"]).total_seconds() / 86400
        buckets[group, row["half_life"]].append(
            (row["occurred_at"], row["pts"] * 0.5 ** (age_days / row["half_life"]))
        )
    prefixes = {}
    for key, items in buckets.items():
        items.sort(key=lambda item: item[0])
        prefixes[key] = ([at for at, _ in items], list(itertools.accumulate(pts for _, pts in items)))
    labels, engagement = [], []
    for i in range(weeks, -1, -1):
        at = now - dt.timedelta(weeks=i)
        per_group: dict = defaultdict(float)
        for (group, half_life), (times, sums) in prefixes.items():
            if n := bisect.bisect_right(times, at):
                per_group[group] += sums[n - 1] * 2 ** (7 * i / half_life)
        total = sum(min(v, caps[g]) if caps[g] is not None else v for g, v in per_group.items())
        labels.append(date_format(timezone.localtime(at), "SHORT_DATE_FORMAT"))
        engagement.append(round(total))
    threshold = ScoringConfig.get().total_threshold
    return {
        "type": "line",
        "data": {
            "labels": labels,
            "datasets": [
                {"label": str(_("Total")), "data": [e + lead.fit_score for e in engagement], "fill": True},
                {"label": str(_("Engagement")), "data": engagement},
                {"label": str(_("MQL threshold")), "data": [threshold] * len(labels), "pointRadius": 0,
                 "borderDash": [6, 4], "color": "#ef4444"},
            ],
        },
        "options": {"plugins": {"legend": {"position": "bottom"}}, "scales": {"y": {"beginAtZero": True}}},
    }  # fmt: skip


def lead_get_for_viewer(*, viewer, pk: int) -> Lead | None:
    return (
        Lead.objects.visible_to(viewer)
        .select_related("company", "owner", "first_touch_campaign", "persona")
        .filter(pk=pk)
        .first()
    )
