"""The weekly review (the Monday meeting): everything the page shows for one ISO week, in a fixed number of queries.

A finished week that has been frozen shows its snapshot's numbers, never recomputed ones (quotes sent and accepted
too: they are KPIs); the lists (deals, quotes, handoffs, voices) show the records behind them as they are now.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.functional import Promise

from campaigns.models import CampaignCost
from kpis.models import ActionItem, WeeklySnapshot, manages_action_items
from kpis.periods import MONTH, QUARTER, WEEK, Period
from kpis.registry import HEADLINE, VERSIONS, Kpi, Number, Scope, compute
from kpis.registry.measures import MEASURES_BY_NAME, SELF_REPORTED_MARKETING, scope_condition
from kpis.selectors import batch
from kpis.selectors.figures import Figure, FunnelStep, funnel
from kpis.services import snapshot_values
from leads import ratios
from leads.models import Campaign, Handoff, Lead
from pipeline.models import SELF_REPORTED_LABEL, Activity, Deal
from quotes.models import Quote
from salesmarketing.links import pk_links
from salesmarketing.models import Team, User
from salesmarketing.replica import reads_from_replica
from salesmarketing.sql import InFirst

LIST_LIMIT = 30
LOST_LIMIT = 100
# What str(user) reads (User.__str__): the lists load only these of each person they name.
PERSON = ("display_name", "first_name", "last_name", "username")
# The key won deals are grouped under when "marketing" was only said, not handed over.
SELF_REPORTED = "marketing_self_reported"
TALLY_WEEKS = 4
CAMPAIGNS_SHOWN = 5
CHANNEL_LABELS = dict(Campaign.Channel.choices)


@dataclass
class ReviewRow:
    week: Figure  # this week vs last week vs the week's target
    month: Figure  # month to date vs the month's target, paced
    quarter: Figure

    @property
    def kpi(self) -> Kpi:
        return self.week.kpi

    @property
    def to_date(self) -> list[Figure]:
        return [self.month, self.quarter]


@dataclass
class LostGroup:
    side: str
    side_label: Promise | str
    cause_label: Promise | str
    deals: list


@dataclass
class TallyRow:
    side: str
    side_label: Promise | str
    cause_label: Promise | str
    counts: list[int]
    total: int


@dataclass
class CampaignReaction:
    """A campaign's week: read as a plain row (every campaign that spent this week is ranked, hundreds of them;
    only the few shown get their link)."""

    pk: int
    name: str
    channel: str
    leads: int
    mqls: int
    cost: int
    href: str = ""

    @property
    def channel_label(self) -> str:
        return str(CHANNEL_LABELS.get(self.channel, self.channel))

    @property
    def cost_per_lead(self) -> float | None:
        """None without spend dated this week (costs are often booked monthly) or without leads."""
        return ratios.CPL.rounded({"spend": self.cost, "leads": self.leads}) if self.cost else None


@dataclass
class Review:
    week: Period
    team: Team | None
    teams: list[Team]
    now: dt.datetime
    snapshot: WeeklySnapshot | None
    rows: list[ReviewRow]
    funnel: list[FunnelStep]
    values: dict[str, Number]
    month_label: str
    quarter_label: str
    changed: list[Kpi]
    won_deals: list
    won_by_source: list[dict]
    lost_groups: list[LostGroup]
    tally_weeks: list[Period]
    tally: list[TallyRow]
    breaches: list
    rejected: list
    reject_reasons: list[dict]
    voices: list
    quotes_sent: list[Quote]
    quotes_accepted: list[Quote]
    campaigns_top: list[CampaignReaction]
    campaigns_bottom: list[CampaignReaction]
    action_items: list[ActionItem]
    owners: list[User]

    @property
    def is_frozen(self) -> bool:
        return self.snapshot is not None

    @property
    def is_in_progress(self) -> bool:
        return self.week.is_current(self.now)

    @property
    def is_future(self) -> bool:
        return self.now < self.week.start_at

    @property
    def previous(self) -> Period:
        return self.week.previous()

    @property
    def next(self) -> Period | None:
        return None if self.week.next().start_at > self.now else self.week.next()


def _figures(data: dict, previous_values: dict[str, Number], changed_keys: set[str]) -> list[ReviewRow]:
    values, context, targets = data["values"], data["context"], data["targets"]
    rows = []
    for kpi in HEADLINE:
        rows.append(
            ReviewRow(
                week=Figure(
                    kpi=kpi,
                    value=values.get(kpi.key),
                    previous=previous_values.get(kpi.key),
                    target=targets.get(WEEK, {}).get(kpi.key),
                    changed_since=kpi.key in changed_keys,
                ),
                month=Figure(
                    kpi=kpi,
                    value=context["month"].get(kpi.key),
                    target=targets.get(MONTH, {}).get(kpi.key),
                    share_elapsed=context["month_share"],
                ),
                quarter=Figure(
                    kpi=kpi,
                    value=context["quarter"].get(kpi.key),
                    target=targets.get(QUARTER, {}).get(kpi.key),
                    share_elapsed=context["quarter_share"],
                ),
            )
        )
    return rows


def _person(relation: str) -> list[str]:
    """The fields of a person a list names (`relation`, as `only()` spells it) that their name is made of."""
    return [f"{relation}__{field}" for field in PERSON]


def _lead(relation: str) -> list[str]:
    """The fields of a lead a list shows: its name (or email) and its company's name."""
    return [f"{relation}__name", f"{relation}__email", f"{relation}__company__name"]


def _first(deals, ordering: tuple[str, ...], limit: int):
    """The first `limit` of these deals in `ordering`, picked from the deal rows alone and only then joined:
    PostgreSQL would otherwise join every deal of the week to its company before sorting them."""
    return deals.model.objects.filter(
        InFirst(F("pk"), deals.order_by(*ordering).values("pk")[:limit])
    ).order_by(*ordering)


def _snapshots(week: Period, *, team_id: int | None):
    """This week's snapshot and last week's, for the team (or everyone)."""
    return WeeklySnapshot.objects.filter(
        Q(team_id=team_id) if team_id else Q(team__isnull=True),
        week_start__in=[week.start, week.previous().start],
    )


@dataclass
class _Numbers:
    """The week's numbers (frozen, or computed now) and last week's, as the review compares them."""

    snapshot: WeeklySnapshot | None
    data: dict
    previous_values: dict[str, Number]
    changed_keys: set[str]


def _numbers(
    week: Period, *, snapshots: list[WeeklySnapshot], team_id: int | None, scope: Scope, now: dt.datetime
) -> _Numbers:
    """A frozen week shows its snapshot; last week as last week's meeting saw it (its snapshot) when there is one."""
    by_week = {s.week_start: s for s in snapshots}
    snapshot = by_week.get(week.start)
    last = by_week.get(week.previous().start)
    if snapshot is not None:
        data = {"values": snapshot.values, "context": snapshot.context, "targets": snapshot.targets}
    else:  # the week, month and quarter to date, and last week unless frozen: one call of the engine
        data = snapshot_values(week=week, team_id=team_id, now=now, fresh=False, last_week=last is None)
    if last is not None:
        previous_values = last.values
    else:
        previous_values = (
            data.pop("last_week", None) or compute([week.previous()], scope=scope, kpis=HEADLINE, now=now)[0]
        )
    changed_keys = (
        {key for key, version in VERSIONS.items() if snapshot.versions.get(key) != version}
        if snapshot
        else set()
    )
    return _Numbers(snapshot, data, previous_values, changed_keys)


def _won_querysets(week: Period, *, scope: Scope, now: dt.datetime, viewer: User) -> dict[str, QuerySet]:
    """Deals won: the biggest, and the won amount by where they came from (self-reported marketing apart)."""
    won_condition = MEASURES_BY_NAME["won"].row_condition(week, now, scope)
    return {
        "won_deals": _first(Deal.objects.filter(won_condition), ("-won_amount", "-id"), LIST_LIMIT)
        .select_related("owner", "first_touch_campaign")
        .only(
            "name",
            "source",
            "handoff",
            "won_amount",
            "first_touch_campaign__name",
            *_person("owner"),
        )
        .with_can_open(viewer),
        "won_by_source": Deal.objects.filter(won_condition)
        .values(origin=Case(When(SELF_REPORTED_MARKETING, then=Value(SELF_REPORTED)), default=F("source")))
        .annotate(deals=Count("pk"), amount=Sum("won_amount"))
        .order_by(),
    }


def _won_by_source(rows: list[dict]) -> list[dict]:
    source_labels = {**dict(Deal.Source.choices), SELF_REPORTED: SELF_REPORTED_LABEL}
    return [
        {**row, "source": row["origin"], "label": source_labels.get(row["origin"], row["origin"])}
        for row in sorted(rows, key=lambda row: (-(row["amount"] or 0), row["origin"]))
    ]


def _lost_queryset(week: Period, *, scope: Scope, now: dt.datetime, viewer: User) -> QuerySet:
    return (
        _first(
            Deal.objects.filter(MEASURES_BY_NAME["lost"].row_condition(week, now, scope)),
            ("loss_side", "loss_cause", "-amount", "-id"),
            LOST_LIMIT,
        )
        .select_related("owner")
        .only("name", "amount", "loss_side", "loss_cause", "loss_note", *_person("owner"))
        .with_can_open(viewer)
    )


def _lost_groups(lost: list[Deal]) -> list[LostGroup]:
    """失注共有会: the week's lost deals grouped by side and cause, the biggest groups first."""
    side_labels, cause_labels = dict(Deal.LossSide.choices), dict(Deal.LossCause.choices)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for deal in lost:
        groups[(deal.loss_side, deal.loss_cause)].append(deal)
    return sorted(
        (
            LostGroup(side, side_labels.get(side, side), cause_labels.get(cause, cause), deals)
            for (side, cause), deals in groups.items()
        ),
        key=lambda g: (-len(g.deals), g.side),
    )


def _tally_row(row: Mapping[str, Any], side_labels: dict, cause_labels: dict) -> TallyRow:
    return TallyRow(
        side=row["loss_side"],
        side_label=side_labels.get(row["loss_side"], row["loss_side"]),
        cause_label=cause_labels.get(row["loss_cause"], row["loss_cause"]),
        counts=[row[f"w{i}"] for i in range(TALLY_WEEKS)],
        total=row["total"],
    )


def _tally_queryset(week: Period, *, scope: Scope) -> QuerySet:
    """Lost deals by side and cause over the last TALLY_WEEKS weeks, one count per week."""
    tally_weeks = week.trailing(TALLY_WEEKS)
    lost_in = Q(status="lost") & scope_condition("deal", scope)
    return (
        Deal.objects.filter(lost_in, closed_at__gte=tally_weeks[0].start_at, closed_at__lt=week.end_at)
        .values("loss_side", "loss_cause")
        .annotate(
            total=Count("pk"),
            **{
                f"w{i}": Count("pk", filter=Q(closed_at__gte=w.start_at, closed_at__lt=w.end_at))
                for i, w in enumerate(tally_weeks)
            },
        )
        .order_by()
    )


def _tally(rows: list[dict]) -> list[TallyRow]:
    side_labels, cause_labels = dict(Deal.LossSide.choices), dict(Deal.LossCause.choices)
    rows = sorted(rows, key=lambda row: (-row["total"], row["loss_side"], row["loss_cause"]))
    return [_tally_row(row, side_labels, cause_labels) for row in rows]


def _handoff_querysets(week: Period, *, scope: Scope, now: dt.datetime) -> dict[str, QuerySet]:
    """SLA breaches, the handoffs sales rejected and the reasons they gave."""
    rejected_condition = MEASURES_BY_NAME["rejected"].row_condition(week, now, scope)
    return {
        "breaches": Handoff.objects.filter(MEASURES_BY_NAME["sla_due"].row_condition(week, now, scope))
        .exclude(MEASURES_BY_NAME["sla_met"].row_condition(week, now, scope))
        .select_related("lead__company", "owner")
        .only("sla_due_at", "first_touch_at", *_lead("lead"), *_person("owner"))
        .order_by("sla_due_at", "id")[:LIST_LIMIT],
        "rejected": Handoff.objects.filter(rejected_condition)
        .select_related("lead", "owner", "campaign")
        .only(
            "reject_reason", "reject_note", "lead__name", "lead__email", "campaign__name", *_person("owner")
        )
        .order_by("-decided_at", "-id")[:LIST_LIMIT],
        "reject_reasons": Handoff.objects.filter(rejected_condition)
        .values("reject_reason")
        .annotate(n=Count("pk"))
        .order_by(),
    }


def _reject_reasons(rows: list[dict]) -> list[dict]:
    reason_labels = dict(Handoff.RejectReason.choices)
    return [
        {**row, "label": reason_labels.get(row["reject_reason"], row["reject_reason"])}
        for row in sorted(rows, key=lambda row: (-row["n"], row["reject_reason"]))
    ]


def _quote_querysets(week: Period, *, scope: Scope, now: dt.datetime, viewer: User) -> dict[str, QuerySet]:
    """The quotes sent this week and those accepted this week (as the KPIs count them), the biggest first; each
    with `can_open`: whether the viewer may read its deal (a shared number lists others' records unlinked)."""
    readable = Exists(Deal.objects.readable_by(viewer).filter(pk=OuterRef("deal_id")))
    return {
        measure: Quote.objects.filter(MEASURES_BY_NAME[measure].row_condition(week, now, scope))
        .select_related("deal__owner")
        .only(
            "year",
            "sequence",
            "revision",
            "status",
            "sent_at",
            "decided_at",
            "total",
            "deal__name",
            *_person("deal__owner"),
        )
        .annotate(can_open=readable)
        .order_by("-total", "-id")[:LIST_LIMIT]
        for measure in ("quotes_sent", "quotes_accepted")
    }


def _voices_queryset(week: Period, *, team_id: int | None) -> QuerySet:
    """The voice of the customer: activities marked as worth sharing with marketing."""
    voices = Activity.objects.filter(
        is_voice=True, occurred_at__gte=week.start_at, occurred_at__lt=week.end_at
    )
    if team_id:
        voices = voices.filter(Q(deal__team_id=team_id) | Q(created_by__team_id=team_id))
    return (
        voices.select_related("deal__company", "lead__company", "created_by")
        .only(
            "voice_text",
            "occurred_at",
            "deal__name",
            "deal__company__name",
            *_lead("lead"),
            *_person("created_by"),
        )
        .order_by("-occurred_at", "-id")[:LIST_LIMIT]
    )


def _campaign_querysets(week: Period) -> dict[str, QuerySet]:
    """Leads, MQLs and cost per campaign this week, and the campaigns that had any."""
    leads = Lead.objects.filter(
        created_at__gte=week.start_at, created_at__lt=week.end_at, first_touch_campaign__isnull=False
    )
    mqls = Handoff.objects.filter(mql_at__gte=week.start_at, mql_at__lt=week.end_at, campaign__isnull=False)
    costs = CampaignCost.objects.filter(date__gte=week.start, date__lt=week.end)
    return {
        "campaign_leads": leads.values("first_touch_campaign").annotate(n=Count("pk")).order_by(),
        "campaign_mqls": mqls.values("campaign").annotate(n=Count("lead_id", distinct=True)).order_by(),
        "campaign_costs": costs.values("campaign").annotate(total=Sum("amount")).order_by(),
        "campaigns": Campaign.objects.filter(
            Q(pk__in=leads.values("first_touch_campaign"))
            | Q(pk__in=mqls.values("campaign"))
            | Q(pk__in=costs.values("campaign"))
        ).values("pk", "name", "channel"),  # every campaign that spent this week: hundreds, as plain rows
    }


def _campaign_reactions(lists: Mapping[str, list]) -> list[CampaignReaction]:
    leads_by = {row["first_touch_campaign"]: row["n"] for row in lists["campaign_leads"]}
    mqls_by = {row["campaign"]: row["n"] for row in lists["campaign_mqls"]}
    cost_by = {row["campaign"]: row["total"] for row in lists["campaign_costs"]}
    return [
        CampaignReaction(
            pk=c["pk"],
            name=c["name"],
            channel=c["channel"],
            leads=leads_by.get(c["pk"], 0),
            mqls=mqls_by.get(c["pk"], 0),
            cost=int(cost_by.get(c["pk"]) or 0),
        )
        for c in lists["campaigns"]
    ]


def _top_and_bottom(
    reactions: list[CampaignReaction],
) -> tuple[list[CampaignReaction], list[CampaignReaction]]:
    """The campaigns that drew most, and the spenders that drew least for their money; only these get a link."""
    top = sorted(reactions, key=lambda r: (-r.leads, -r.mqls, r.cost, r.name))[:CAMPAIGNS_SHOWN]
    shown = {id(r) for r in top}
    spenders = [r for r in reactions if r.cost and id(r) not in shown]
    bottom = sorted(spenders, key=lambda r: (r.leads > 0, -(r.cost_per_lead or 0), -r.cost))[:CAMPAIGNS_SHOWN]
    link = pk_links("campaigns:detail")
    for reaction in (*top, *bottom):
        reaction.href = link(reaction.pk)
    return top, bottom


def _list_querysets(
    week: Period, *, team_id: int | None, now: dt.datetime, viewer: User
) -> dict[str, QuerySet]:
    """What the review reads besides the KPI numbers, by name: read together in one statement."""
    scope = Scope(team_id=team_id)
    return {
        "snapshots": _snapshots(week, team_id=team_id),
        **_won_querysets(week, scope=scope, now=now, viewer=viewer),
        "lost_deals": _lost_queryset(week, scope=scope, now=now, viewer=viewer),
        "tally": _tally_queryset(week, scope=scope),
        **_handoff_querysets(week, scope=scope, now=now),
        "voices": _voices_queryset(week, team_id=team_id),
        **_quote_querysets(week, scope=scope, now=now, viewer=viewer),
        **_campaign_querysets(week),
        "action_items": _action_items_queryset(week),
        # only managers and admins give items to others: everyone else's list of owners is themselves
        **({"owners": _owners_queryset()} if manages_action_items(viewer) else {}),
    }


@reads_from_replica()
def weekly_review(
    *, week: Period, team_id: int | None, viewer: User, now: dt.datetime | None = None
) -> Review:
    """The teams, the week's snapshots, its lists and the action items are read in one statement; the numbers
    then come from the snapshot or the KPI engine. `team_id` that names no team shows everyone (as no team)."""
    now = now or timezone.now()
    teams_queryset = Team.objects.order_by("kind", "name")
    lists = batch.fetch(
        {"teams": teams_queryset, **_list_querysets(week, team_id=team_id, now=now, viewer=viewer)}
    )
    teams = lists["teams"]
    team = next((t for t in teams if t.pk == team_id), None)
    if team_id and team is None:  # a stale or forged link: read again for everyone
        team_id = None
        lists.update(batch.fetch(_list_querysets(week, team_id=None, now=now, viewer=viewer)))
    _link(lists)
    scope = Scope(team_id=team_id)
    numbers = _numbers(week, snapshots=lists["snapshots"], team_id=team_id, scope=scope, now=now)
    top, bottom = _top_and_bottom(_campaign_reactions(lists))
    rows = _figures(numbers.data, numbers.previous_values, numbers.changed_keys)
    values = numbers.data["values"]
    return Review(
        week=week,
        team=team,
        teams=teams,
        now=now,
        snapshot=numbers.snapshot,
        rows=rows,
        funnel=funnel(values, team_selected=team is not None),
        values=values,
        month_label=numbers.data["context"].get("month_label", ""),
        quarter_label=numbers.data["context"].get("quarter_label", ""),
        changed=[row.kpi for row in rows if row.week.changed_since],
        won_deals=lists["won_deals"],
        won_by_source=_won_by_source(lists["won_by_source"]),
        lost_groups=_lost_groups(lists["lost_deals"]),
        tally_weeks=week.trailing(TALLY_WEEKS),
        tally=_tally(lists["tally"]),
        breaches=lists["breaches"],
        rejected=lists["rejected"],
        reject_reasons=_reject_reasons(lists["reject_reasons"]),
        voices=lists["voices"],
        quotes_sent=lists["quotes_sent"],
        quotes_accepted=lists["quotes_accepted"],
        campaigns_top=top,
        campaigns_bottom=bottom,
        action_items=_with_can_change(lists["action_items"], viewer=viewer),
        owners=lists.get("owners", [viewer]),
    )


def _link(lists: dict[str, list]) -> None:
    """Each listed record's page as `href` (a lead's on the lead), one reverse() per kind, not per row."""
    deal, quote, lead = (
        pk_links(name) for name in ("pipeline:deal_detail", "quotes:quote_detail", "leads:detail")
    )
    for name, link in (
        ("won_deals", deal),
        ("lost_deals", deal),
        ("quotes_sent", quote),
        ("quotes_accepted", quote),
    ):
        for row in lists[name]:
            row.href = link(row.pk)
    for name in ("breaches", "rejected", "voices"):
        for row in lists[name]:
            if row.lead_id is not None:
                row.lead.href = lead(row.lead_id)


def _action_items_queryset(week: Period) -> QuerySet:
    """Items raised in this week or before that were still open when it began (carried over), or done since."""
    return (
        ActionItem.objects.filter(week_start__lte=week.start)
        .filter(Q(done_at__isnull=True) | Q(done_at__gte=week.start_at))
        .select_related("owner")
        .order_by(F("done_at").asc(nulls_first=True), "due_date", "id")
    )


def _with_can_change(items: list[ActionItem], *, viewer: User | None) -> list[ActionItem]:
    """Each item with `can_change`: whether `viewer` gets the control to tick it off, and `done_url`, where it
    does."""
    done = pk_links("kpis:action_item_done")
    for item in items:
        item.can_change = item.can_be_changed_by(viewer)
        item.done_url = done(item.pk)
    return items


def action_items_for_week(week: Period, *, viewer: User | None) -> list[ActionItem]:
    """The week's action items (see _action_items_queryset), each with `can_change` for `viewer`."""
    return _with_can_change(list(_action_items_queryset(week)), viewer=viewer)


def _owners_queryset() -> QuerySet:
    # what the owner select shows of each (a few hundred people): the name and the team's
    return (
        User.objects.filter(is_active=True)
        .select_related("team")
        .only("id", *PERSON, "team", "team__name")
        .order_by("team__name", "username")
    )


def action_item_owners(*, viewer: User | None = None) -> list[User]:
    """Whom an action item can be given to: anyone active, or for a viewer who is not a manager or admin,
    only themselves."""
    if viewer is not None and not manages_action_items(viewer):
        return [viewer]
    return list(_owners_queryset())
