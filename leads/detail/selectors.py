"""The lead's page: what it shows, in the same few queries whatever the lead's history.

Beside the lead itself (its visibility check, with company, owner, campaign and persona joined):
1. its panels in one statement (leads.detail.rows): handoffs, browsers, lifecycle history, merges, the latest
   submissions, and the scoring rules, groups and MQL threshold the score panel needs;
2. the score panel in one statement (leads.scoring.engine.explain_over_time): every rule that gave points, over
   all the lead's touches, and its engagement at the end of each of the last weeks, aggregated in SQL;
3. one page of the timeline in one statement, newest first: its touches, and the rows higher apps put there
   (hooks.LEAD_TIMELINE: nurture's enrolments, step e-mails, exits and broadcasts), each kind found by keyset on
   (its time, id) and merged in time order; the next page comes through its "Older" link (an HTMX swap, or the
   page itself with `?before=`), as cheap as the first whatever its depth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Expression, Model, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from leads.detail.rows import Rows, Totals, read_together
from leads.models import (
    Handoff,
    Lead,
    LifecycleChange,
    MergeRecord,
    ScoringConfig,
    ScoringGroup,
    ScoringRule,
    Touch,
)
from leads.scoring.engine import Contribution, explain_over_time
from leads.services import ACCEPTABLE_FIELDS, SUBMITTED_KEY
from salesmarketing import hooks
from salesmarketing.models import User

TIMELINE_PAGE = 50
HISTORY_WEEKS = 13
LIFECYCLE_SHOWN = 50
MERGES_SHOWN = 20
# How many of the lead's latest submissions the "Submitted values that differ" panel looks at.
SUBMISSIONS_LOOKED_AT = 20

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def user_fields(relation: str) -> tuple[str, ...]:
    """The fields of a related user that its name needs (User.__str__)."""
    return tuple(f"{relation}__{name}" for name in ("display_name", "first_name", "last_name", "username"))


# What the explanation and the fit rules' SQL read of a ScoringRule.
RULE_FIELDS = (
    "id",
    "kind",
    "name",
    "name_en",
    "group",
    "points",
    "is_active",
    "field",
    "operator",
    "value",
    "number",
)

# What the merge history (leads/merge/includes/merge_history.html) shows of a MergeRecord, on both record pages.
MERGE_FIELDS = ("id", "kind", "at", "fields_taken", "moved", "merged_lead__name", "merged_lead__email",
                "merged_company__name", *user_fields("by"))  # fmt: skip


@dataclass(frozen=True)
class TimelineSource:
    """Rows of one kind on a lead's timeline: its touches, or what a higher app registered at hooks.LEAD_TIMELINE
    (nurture: enrolments, step e-mails, exits, broadcasts). `queryset` holds the lead's rows of this kind, neither
    ordered nor sliced; `at` names the field that places a row in time; `fields` and `extra` are what its entry
    shows (as leads.detail.rows.Rows reads them: `id` and `at` are added); `template` draws one entry (an `<li>`,
    the row as `row`, `context` as `ctx`). `key` names the kind in the page's cursor and breaks ties in time."""

    key: str
    queryset: QuerySet
    at: str
    fields: tuple[str, ...]
    template: str
    extra: Mapping[str, Expression] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    def page(self, before: Cursor | None, size: int) -> Rows:
        """The newest `size` rows older than `before` in timeline order (at, key, id), newest first."""
        qs = self.queryset
        if before is not None:
            # The plain bound lets the lead's time index start at the cursor; the rest breaks ties.
            qs = qs.filter(**{f"{self.at}__lte": before.at})
            if self.key > before.key:
                qs = qs.filter(**{f"{self.at}__lt": before.at})
            elif self.key == before.key:
                qs = qs.filter(Q(**{f"{self.at}__lt": before.at}) | Q(id__lt=before.row_id))
        fields = tuple(dict.fromkeys(("id", self.at, *self.fields)))
        return Rows(qs.order_by(f"-{self.at}", "-id")[:size], fields, self.extra)


@dataclass(frozen=True)
class Cursor:
    """Where a timeline page starts: the entries strictly older than this (at, key, id) in timeline order.
    In a URL: `<microseconds since 1970>-<source key>-<id>`."""

    at: dt.datetime
    key: str
    row_id: int

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // dt.timedelta(microseconds=1)}-{self.key}-{self.row_id}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor a link carried; None (the newest page) for anything else."""
        micros, _sep, rest = text.partition("-")
        key, _sep, row_id = rest.rpartition("-")
        if (
            not (micros.isdigit() and key.isidentifier() and row_id.isdigit())
            or len(micros) > 17
            or len(key) > 40
        ):
            return None
        return cls(_EPOCH + dt.timedelta(microseconds=int(micros)), key, int(row_id))


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    source: TimelineSource
    row: Model

    @property
    def order(self) -> tuple[dt.datetime, str, int]:
        return (self.at, self.source.key, self.row.pk)


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    older: Cursor | None  # where the next (older) page starts; None on the oldest page
    before: Cursor | None  # where this page started; None on the newest page


# What a touch's entry (leads/includes/timeline_touch.html) shows.
TOUCH_FIELDS = ("type", "url", "utm_campaign", "properties", "campaign__name")


def lead_timeline(
    *, lead: Lead, viewer: User, before: Cursor | None = None, size: int = TIMELINE_PAGE
) -> TimelinePage:
    """One page of the lead's timeline, newest first: its touches and what higher apps add (hooks.LEAD_TIMELINE),
    in one statement (each kind's next `size` + 1 rows by its time index, merged here)."""
    sources = [
        TimelineSource("touch", lead.touches.all(), "occurred_at", TOUCH_FIELDS, "leads/includes/timeline_touch.html"),
        *(s for found in hooks.call(hooks.LEAD_TIMELINE, lead=lead, viewer=viewer) for s in found),
    ]  # fmt: skip
    pages = read_together(**{source.key: source.page(before, size + 1) for source in sources})
    entries = sorted(
        (
            TimelineEntry(getattr(row, source.at), source, row)
            for source in sources
            for row in pages[source.key]
        ),
        key=lambda entry: entry.order,
        reverse=True,
    )
    older = None
    if len(entries) > size:
        last = entries[size - 1]
        older = Cursor(last.at, last.source.key, last.row.pk)
    return TimelinePage(entries=entries[:size], older=older, before=before)


@dataclass
class SubmittedValue:
    """A value an unauthenticated capture sent that differs from what the lead has (the latest per field)."""

    field: str
    label: str
    value: str
    current: str
    touch_id: int
    occurred_at: dt.datetime


@dataclass
class LeadPage:
    lead: Lead
    timeline: TimelinePage
    touch_count: int
    activity: dict
    handoffs: list[Handoff]
    visitor_ids: list[str]
    lifecycle_history: list[LifecycleChange]
    merges: list[MergeRecord]
    explanation: list[Contribution]
    score_history: dict
    submitted: list[SubmittedValue]


def lead_page(*, lead: Lead, viewer: User, before: Cursor | None = None) -> LeadPage:
    """Everything the lead's page shows but the lead: three queries (see the module's doc)."""
    now = timezone.now()
    weeks = [now - dt.timedelta(weeks=i) for i in range(HISTORY_WEEKS, -1, -1)]  # oldest first, now last
    panels = read_together(
        handoffs=Rows(
            lead.handoffs.order_by("-mql_at", "-id"),
            ("id", "mql_at", "state", "sla_due_at", "reject_reason", "reject_note", *user_fields("owner")),
        ),
        visitors=Rows(lead.visitors.order_by("id"), ("id", "visitor_id")),
        lifecycle=Rows(
            lead.lifecycle_changes.order_by("-at", "-id")[:LIFECYCLE_SHOWN],
            ("id", "from_stage", "to_stage", "at", "reason", *user_fields("by")),
        ),
        merges=Rows(
            MergeRecord.objects.filter(lead=lead).order_by("-at", "-id")[:MERGES_SHOWN],
            MERGE_FIELDS,
        ),
        submitted=Rows(
            lead.touches.filter(properties__has_key=SUBMITTED_KEY).order_by("-occurred_at", "-id")[
                :SUBMISSIONS_LOOKED_AT
            ],
            ("id", "occurred_at", "properties"),
        ),
        rules=Rows(ScoringRule.objects.filter(is_active=True).order_by("id"), RULE_FIELDS),
        groups=Rows(ScoringGroup.objects.order_by("kind", "name"), ("id", "kind", "name", "name_en", "cap")),
        config=Rows(ScoringConfig.objects.filter(pk=1), ("id", "total_threshold")),
        # Touches per week, the weeks of the score chart: one pass over the lead's touches.
        activity=Totals(
            lead.touches.all(),
            {
                "all": Count("id"),
                **{
                    f"w{i}": Count("id", filter=Q(occurred_at__gt=weeks[i - 1], occurred_at__lte=weeks[i]))
                    for i in range(1, len(weeks))
                },
            },
            defaults={"all": 0},
        ),
    )
    rules = {rule.pk: rule for rule in panels["rules"]}
    groups = {group.pk: group for group in panels["groups"]}
    explanation, engagement = explain_over_time(lead.pk, now=now, times=weeks, rules=rules, groups=groups)
    configs = panels["config"]
    threshold = configs[0].total_threshold if configs else _default_threshold()
    labels = [date_format(timezone.localtime(at), "SHORT_DATE_FORMAT") for at in weeks]
    activity = panels["activity"][0]
    return LeadPage(
        lead=lead,
        timeline=lead_timeline(lead=lead, viewer=viewer, before=before),
        touch_count=activity["all"] or 0,
        activity=_activity_chart(labels[1:], [activity[f"w{i}"] or 0 for i in range(1, len(weeks))]),
        handoffs=panels["handoffs"],
        visitor_ids=[v.visitor_id for v in panels["visitors"]],
        lifecycle_history=panels["lifecycle"],
        merges=panels["merges"],
        explanation=explanation,
        score_history=_score_history_chart(labels, [round(e) for e in engagement], lead.fit_score, threshold),
        submitted=submitted_differences(lead, panels["submitted"]),
    )


def _default_threshold() -> int:
    """The MQL line before anyone saved thresholds (ScoringConfig.get() would create the row: a page only reads)."""
    default = ScoringConfig._meta.get_field("total_threshold").default
    return int(default) if isinstance(default, int) else 0


def _score_history_chart(
    labels: list[str], engagement: list[int], fit: int, threshold: int
) -> dict[str, Any]:
    """The lead's engagement at the end of each of the last weeks (the scorer's decay and caps with the current
    rules), with fit and the MQL line beside it."""
    return {
        "type": "line",
        "data": {
            "labels": labels,
            "datasets": [
                {"label": str(_("Total")), "data": [e + fit for e in engagement], "fill": True},
                {"label": str(_("Engagement")), "data": engagement},
                {"label": str(_("MQL threshold")), "data": [threshold] * len(labels), "pointRadius": 0,
                 "borderDash": [6, 4], "color": "#ef4444"},
            ],
        },
        "options": {"plugins": {"legend": {"position": "bottom"}}, "scales": {"y": {"beginAtZero": True}}},
    }  # fmt: skip


def _activity_chart(labels: list[str], counts: list[int]) -> dict[str, Any]:
    """Touches in each of the last weeks (labelled by the week's last day)."""
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [{"label": str(_("Touches")), "data": counts}]},
        "options": {
            "plugins": {"legend": {"display": False}},
            "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}},
        },
    }


def submitted_differences(lead: Lead, touches: list[Touch]) -> list[SubmittedValue]:
    """Per field, the latest submitted value, when it differs from the lead's; `touches` are the lead's latest
    submissions, newest first."""
    found: dict[str, SubmittedValue] = {}
    seen: set[str] = set()  # only the latest value sent for a field counts: an older one is outdated
    for touch in touches:
        submitted = (touch.properties or {}).get(SUBMITTED_KEY)
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
                    touch_id=touch.pk,
                    occurred_at=touch.occurred_at,
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
