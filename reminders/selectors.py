"""Reads for a user's tasks: the "my tasks" page, one item, the items due a reminder, the daily digest.

A user's items are their open to-dos (pipeline.Task assigned to them), the next steps of their open deals and
their open action items from the weekly review (kpis); the page adds their handoffs waiting for a first touch or
a verdict, and their stale deals (the pipeline board's rule: longer in the stage than the stage allows, or than
most deals stayed). Every read is one query whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.urls import reverse

from kpis.models import ActionItem
from kpis.periods import Period
from leads.models import Handoff
from pipeline.models import Activity, Deal, Task
from pipeline.selectors.board import stage_usual_seconds
from reminders.models import DigestSent, DigestSetting, ItemKind, Snooze
from reminders.schedule import due_moment, local_date, tz
from salesmarketing.models import Notification, User

STALE_DEALS_SHOWN = 50
MEETINGS_AHEAD = dt.timedelta(days=14)
ROWS_PER_KIND = 200  # a user's open items of one kind shown at most (the oldest due first)


@dataclass
class Item:
    kind: str
    pk: int
    title: str
    due_date: dt.date
    user: User
    url: str  # the record it belongs to (the deal, the weekly review)
    record: Any = None  # the Task, Deal or ActionItem itself
    deal: Deal | None = None
    snoozed_until: dt.datetime | None = None
    state: str = ""  # overdue / today / upcoming / snoozed, for the page

    @property
    def due(self) -> dt.datetime:
        return due_moment(self.due_date)

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.pk}"

    @property
    def kind_label(self) -> str:
        return str(ItemKind(self.kind).label)

    @property
    def where(self) -> str:
        return self.deal.name if self.deal is not None else ""


def _task_items(rows: Iterable[Task]) -> list[Item]:
    return [
        Item(
            kind=ItemKind.TASK,
            pk=t.pk,
            title=t.title,
            due_date=t.due_date,
            user=t.assignee,  # type: ignore[arg-type]  # (the queries ask for an assignee)
            url=t.deal.get_absolute_url(),
            record=t,
            deal=t.deal,
        )
        for t in rows
    ]


def _next_step_items(rows: Iterable[Deal]) -> list[Item]:
    return [
        Item(
            kind=ItemKind.NEXT_STEP,
            pk=d.pk,
            title=d.next_step or str(ItemKind.NEXT_STEP.label),
            due_date=d.next_step_date,  # type: ignore[arg-type]  # (the queries ask for a date)
            user=d.owner,
            url=d.get_absolute_url(),
            record=d,
            deal=d,
        )
        for d in rows
    ]


def _action_items(rows: Iterable[ActionItem]) -> list[Item]:
    review = reverse("kpis:weekly_review")
    return [
        Item(
            kind=ItemKind.ACTION,
            pk=a.pk,
            title=a.title,
            due_date=a.due_date,
            user=a.owner,
            url=f"{review}?week={Period.week_of(a.week_start).label}",
            record=a,
        )
        for a in rows
    ]


def _open_tasks() -> Any:
    return Task.objects.filter(done_at__isnull=True, assignee__isnull=False).select_related(
        "deal", "assignee"
    )


def _open_next_steps() -> Any:
    return Deal.objects.open().filter(next_step_date__isnull=False).select_related("owner")


def _open_actions() -> Any:
    return ActionItem.objects.filter(done_at__isnull=True).select_related("owner")


def _snoozed_until(user: User, kind: str) -> Subquery:
    """The end of the user's snooze of each row (an item of `kind`), read with the row."""
    return Subquery(Snooze.objects.filter(user=user, kind=kind, object_id=OuterRef("pk")).values("until")[:1])


def user_items(*, user: User, next_steps: list[Deal] | None = None) -> list[Item]:
    """The user's open items, each with its snooze, oldest due first: three queries, two when the caller read
    the deals with a next step already (`next_steps`, each annotated `snoozed_until`: my_tasks' one deal query)."""
    if next_steps is None:
        next_steps = list(
            _open_next_steps()
            .filter(owner=user)
            .annotate(snoozed_until=_snoozed_until(user, ItemKind.NEXT_STEP))
            .order_by("next_step_date", "pk")[:ROWS_PER_KIND]
        )
    tasks = _open_tasks().filter(assignee=user).annotate(snoozed_until=_snoozed_until(user, ItemKind.TASK))
    actions = _open_actions().filter(owner=user).annotate(snoozed_until=_snoozed_until(user, ItemKind.ACTION))
    items = [
        *_task_items(tasks.order_by("due_date", "pk")[:ROWS_PER_KIND]),
        *_next_step_items(next_steps),
        *_action_items(actions.order_by("due_date", "pk")[:ROWS_PER_KIND]),
    ]
    for item in items:
        item.snoozed_until = item.record.snoozed_until
    items.sort(key=lambda i: (i.due_date, i.kind, i.pk))
    return items


def user_item(*, user: User, kind: str, pk: int) -> Item | None:
    """One open item of the user's, or None (someone else's, done, or no such item): two queries."""
    if kind == ItemKind.TASK:
        found = _task_items(_open_tasks().filter(assignee=user, pk=pk))
    elif kind == ItemKind.NEXT_STEP:
        found = _next_step_items(_open_next_steps().filter(owner=user, pk=pk))
    elif kind == ItemKind.ACTION:
        found = _action_items(_open_actions().filter(owner=user, pk=pk))
    else:
        return None
    if not found:
        return None
    item = found[0]
    snooze = Snooze.objects.filter(kind=kind, object_id=pk).first()
    item.snoozed_until = snooze.until if snooze is not None else None
    return item


def set_state(item: Item, *, now: dt.datetime) -> Item:
    today = local_date(now)
    if item.snoozed_until is not None and item.snoozed_until > now:
        item.state = "snoozed"
    elif item.due <= now or item.due_date < today:
        item.state = "overdue"
    elif item.due_date == today:
        item.state = "today"
    else:
        item.state = "upcoming"
    return item


@dataclass
class MyTasks:
    overdue: list[Item] = field(default_factory=list)
    today: list[Item] = field(default_factory=list)
    upcoming: list[Item] = field(default_factory=list)
    snoozed: list[Item] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    stale_deals: list[tuple[Deal, int]] = field(default_factory=list)  # (deal, days in its stage)
    meetings: list[Activity] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming)


def my_tasks(*, user: User, now: dt.datetime) -> MyTasks:
    """The page: the user's items by state, their handoffs waiting, their stale deals and their meetings ahead.
    Five queries (to-dos, action items, the open deals for next steps and staleness, handoffs, meetings), and one
    more when the stages' usual times are not cached (the board's, kept a few minutes)."""
    next_steps, staying = _open_deals(user=user)
    page = my_tasks_items(user=user, now=now, next_steps=next_steps)
    page.handoffs = handoffs_waiting(user=user)
    page.stale_deals = stale_deals(deals=staying, now=now)
    page.meetings = meetings_ahead(user=user, now=now)
    return page


def _open_deals(*, user: User) -> tuple[list[Deal], list[Deal]]:
    """In one query, the user's open deals the page shows: the first ROWS_PER_KIND with a next step, by its date,
    each with its snooze (user_items' `next_steps`); and the ROWS_PER_KIND × 2 longest in their stage, with their
    stages (stale_deals' `deals`)."""
    deals: list[Any] = list(  # Deals with the annotations below
        Deal.objects.open()
        .filter(owner=user)
        .select_related("owner", "stage", "company")
        .annotate(
            snoozed_until=_snoozed_until(user, ItemKind.NEXT_STEP),
            next_rank=Window(RowNumber(), order_by=[F("next_step_date").asc(nulls_last=True), F("pk").asc()]),
            stale_rank=Window(RowNumber(), order_by=[F("stage_changed_at").asc(), F("pk").asc()]),
        )
        .filter(
            Q(next_step_date__isnull=False, next_rank__lte=ROWS_PER_KIND)
            | Q(stale_rank__lte=ROWS_PER_KIND * 2)
        )
    )
    return (
        [d for d in deals if d.next_step_date is not None and d.next_rank <= ROWS_PER_KIND],
        [d for d in deals if d.stale_rank <= ROWS_PER_KIND * 2],
    )


def meetings_ahead(*, user: User, now: dt.datetime) -> list[Activity]:
    """Meetings and demos of the next two weeks that the user booked, or on their deals or leads."""
    return list(
        Activity.objects.filter(
            type__in=[Activity.Type.MEETING, Activity.Type.DEMO],
            occurred_at__gte=now,
            occurred_at__lt=now + MEETINGS_AHEAD,
        )
        .filter(Q(created_by=user) | Q(deal__owner=user) | Q(lead__owner=user))
        .select_related("deal", "lead")
        .order_by("occurred_at", "pk")[:ROWS_PER_KIND]
    )


def my_tasks_items(*, user: User, now: dt.datetime, next_steps: list[Deal] | None = None) -> MyTasks:
    """The user's items by state (overdue, today, upcoming, snoozed); `next_steps` as user_items takes them."""
    page = MyTasks()
    for item in user_items(user=user, next_steps=next_steps):
        getattr(page, set_state(item, now=now).state).append(item)
    return page


def handoffs_waiting(*, user: User) -> list[Handoff]:
    """The user's handoffs waiting for a first touch or a verdict (accept / reject), the SLA's first."""
    return list(
        Handoff.objects.filter(owner=user, state__in=[Handoff.State.ASSIGNED, Handoff.State.WORKING])
        .select_related("lead")
        .order_by("sla_due_at", "pk")[:ROWS_PER_KIND]
    )


def stale_deals(*, deals: list[Deal], now: dt.datetime) -> list[tuple[Deal, int]]:
    """Those of a user's open `deals` (with their stages) that stayed in their stage longer than it allows
    (Stage.stale_after_days) or, for a stage without a limit, than three deals in four did over the last year:
    the pipeline board's rule. Longest in their stage first."""
    deals = sorted(deals, key=lambda d: (d.stage_changed_at, d.pk))
    unlimited = sorted({d.stage_id for d in deals if d.stage.stale_after_days is None})
    usual = stage_usual_seconds(unlimited) if unlimited else {}
    stale = []
    for deal in deals:
        limit = deal.stage.stale_after_days
        days_allowed: float | None = limit if limit is not None else usual.get(deal.stage_id, None)
        if limit is None and days_allowed is not None:
            days_allowed = days_allowed / 86400
        days = (now - deal.stage_changed_at).days
        if days_allowed is not None and days > days_allowed:
            stale.append((deal, days))
    return stale[:STALE_DEALS_SHOWN]


# --- reminders (beat) ---------------------------------------------------------------------------------------


def items_to_remind(*, now: dt.datetime) -> list[Item]:
    """Every user's open items with a reminder moment in the catch-up window (TASKS_REMIND_CATCHUP_HOURS back to
    now): those due in the window's dates, and those whose snooze ended in it. Five queries."""
    catchup = dt.timedelta(hours=settings.TASKS_REMIND_CATCHUP_HOURS)
    before = dt.timedelta(minutes=settings.TASKS_REMIND_BEFORE_MINUTES)
    first, last = local_date(now - catchup), local_date(now + before) + dt.timedelta(days=1)
    snoozes = {(s.kind, s.object_id): s.until for s in Snooze.objects.filter(until__gt=now - catchup)}
    snoozed = {kind: [pk for k, pk in snoozes if k == kind] for kind in ItemKind.values}
    items = [
        *_task_items(
            _open_tasks().filter(Q(due_date__range=(first, last)) | Q(pk__in=snoozed[ItemKind.TASK]))
        ),
        *_next_step_items(
            _open_next_steps().filter(
                Q(next_step_date__range=(first, last)) | Q(pk__in=snoozed[ItemKind.NEXT_STEP])
            )
        ),
        *_action_items(
            _open_actions().filter(Q(due_date__range=(first, last)) | Q(pk__in=snoozed[ItemKind.ACTION]))
        ),
    ]
    for item in items:
        item.snoozed_until = snoozes.get((item.kind, item.pk))
    return items


# --- the daily digest ----------------------------------------------------------------------------------------


def digest_due_users(*, now: dt.datetime, day: dt.date) -> list[int]:
    """Ids of the users whose digest time has come today (Asia/Tokyo) and who have an e-mail address; the ledger
    (DigestSent) decides whether today's went out already."""
    return list(
        DigestSetting.objects.filter(
            enabled=True, send_at__lte=now.astimezone(tz()).time(), user__is_active=True
        )
        .exclude(user__email="")
        .exclude(user__in=DigestSent.objects.filter(day=day).values("user"))
        .values_list("user_id", flat=True)
        .order_by("user_id")
    )


@dataclass
class Digest:
    notifications: list[Notification]
    unread_count: int
    overdue: list[Item]
    today: list[Item]
    handoffs: list[Handoff]

    @property
    def is_empty(self) -> bool:
        return not (self.unread_count or self.overdue or self.today or self.handoffs)


DIGEST_NOTIFICATIONS_SHOWN = 20


def digest(*, user: User, now: dt.datetime) -> Digest:
    """What one user's digest says: their unread notifications of the last day, their items overdue or due today
    (snoozed ones left out), and their handoffs waiting."""
    since = now - dt.timedelta(days=1)
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True, created_at__gte=since)
    page = my_tasks_items(user=user, now=now)
    return Digest(
        notifications=list(unread.order_by("-created_at", "-id")[:DIGEST_NOTIFICATIONS_SHOWN]),
        unread_count=unread.count(),
        overdue=page.overdue,
        today=page.today,
        handoffs=handoffs_waiting(user=user),
    )
