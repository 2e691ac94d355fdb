"""The board: a column per stage with count, total and weighted total (SQL aggregates), the first cards of every
column from one query (an index range per stage), and the usual time in each stage from one aggregate (cached a few
minutes). A column of thousands of cards shows a page of them; "more" reads the next page after the last card shown
(keyset: card order, never an offset), so every request costs the same whatever the column holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import ngettext

from pipeline.models import Deal, Pipeline, Stage, StageChange
from pipeline.selectors.access import (
    WEIGHTED_SUM,
    ZERO,
    BoardFilters,
    can_edit_deals,
    filtered_deals,
    scopes_for,
)
from pipeline.selectors.json_rows import JsonRows
from pipeline.services import pipeline_ensure_default
from salesmarketing import hooks
from salesmarketing.models import User
from salesmarketing.sql import InFirst
from salesmarketing.templatetags.sm import yen

CARDS_PER_COLUMN = 30
MAX_CARDS_PER_COLUMN = 200  # the most one page of a column may ask for
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CLOSED_WINDOW_DAYS = 30  # won/lost columns show what closed recently, not years of history
USUAL_TIME_LOOKBACK_DAYS = 365
USUAL_TIME_MIN_SAMPLES = 5
USUAL_TIME_CACHE_SECONDS = 600
# What a card shows and places by (board_card, After): a few hundred cards with every column of the deal and a
# company and a user instance each were a fifth of the board's time in making model instances and parsing
# timestamps. The company's name and the owner's names ride along as columns instead.
CARD_FIELDS = (
    "name",
    "company_id",
    "owner_id",
    "stage_id",
    "status",
    "position",
    "amount",
    "expected_close_date",
    "next_step",
    "next_step_date",
    "stage_changed_at",
    "closed_at",
    "loss_cause",
    "loss_side",
    "version",
)
CARD_OWNER_FIELDS = ("username", "first_name", "last_name", "display_name")


_URL_PK = 918273645  # a pk no deal has: the URLs of cards are the pattern reversed once, this pk swapped


@dataclass
class CardTexts:
    """What the cards of one board share: the deal page and move URLs, reversed once (not twice per card), and
    the dates, amounts and day counts many cards repeat, formatted once each (in the language of the request)."""

    detail: tuple[str, str]
    move: tuple[str, str]
    formatted: dict[tuple[str, Any], str] = field(default_factory=dict)

    @classmethod
    def reverse(cls) -> CardTexts:
        def around_pk(name: str) -> tuple[str, str]:
            before, _pk, after = reverse(name, args=[_URL_PK]).partition(str(_URL_PK))
            return before, after

        return cls(detail=around_pk("pipeline:deal_detail"), move=around_pk("pipeline:deal_move"))

    def once(self, kind: str, value: Any, format_value: Callable[[Any], str]) -> str:
        key = (kind, value)
        text = self.formatted.get(key)
        if text is None:
            text = self.formatted[key] = format_value(value)
        return text


def _short_date(day: dt.date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def _days_in_stage(days: int) -> str:
    return ngettext("%(days)s day in stage", "%(days)s days in stage", days) % {"days": days}


@dataclass
class Card:
    """A deal on the board with what its card shows worked out once: the template only places the texts."""

    deal: Deal
    days_in_stage: int
    is_stale: bool
    next_step_overdue: bool
    next_step_shown: bool = False  # an open deal's next step (or its date)
    texts: CardTexts = field(default_factory=CardTexts.reverse)  # the board's (shared by its cards)
    company_name: str | None = None  # read along by pipeline_board; else from deal.company
    owner_name: str | None = None  # str(owner), read along by pipeline_board; else from deal.owner

    def __post_init__(self) -> None:
        if self.company_name is None:
            company = self.deal.company
            self.company_name = company.name if company is not None else ""
        if self.owner_name is None:
            self.owner_name = str(self.deal.owner)

    @cached_property
    def pk(self) -> str:
        """The id as markup uses it (never grouped like a number)."""
        return str(self.deal.pk)

    @cached_property
    def url(self) -> str:
        return self.pk.join(self.texts.detail)

    @cached_property
    def move_url(self) -> str:
        return self.pk.join(self.texts.move)

    @cached_property
    def amount(self) -> str:
        return self.texts.once("yen", self.deal.amount, yen)

    @cached_property
    def expected_close(self) -> str:
        day = self.deal.expected_close_date
        return "" if day is None else self.texts.once("date", day, _short_date)

    @cached_property
    def days_text(self) -> str:
        return self.texts.once("days", self.days_in_stage, _days_in_stage)

    @cached_property
    def items_text(self) -> str:
        """How many line items the deal has (quotes' hook), or nothing."""
        n = getattr(self.deal, "item_count", 0)
        if not n:
            return ""
        return ngettext("%(n)s line item", "%(n)s line items", n) % {"n": n}

    @cached_property
    def next_step_day(self) -> tuple[str, str] | None:
        """The next step's date: (ISO, as shown)."""
        day = self.deal.next_step_date
        return None if day is None else (day.isoformat(), self.texts.once("date", day, _short_date))

    @cached_property
    def version(self) -> str:
        return str(self.deal.version)


@dataclass(frozen=True)
class After:
    """Where a page of a column starts: after the card with this sort key (closed_at, position, id).

    In a URL as `<closed_at in µs since 1970, or nothing>.<position>.<id>` (Column.next_after)."""

    closed_at: dt.datetime | None
    position: int
    pk: int

    @classmethod
    def parse(cls, text: str | None) -> After | None:
        """The cursor of a "more" link; None for anything else (the column's first page then)."""
        parts = (text or "").split(".")
        try:
            closed, position, pk = parts
            return cls(
                closed_at=EPOCH + dt.timedelta(microseconds=int(closed)) if closed else None,
                position=int(position),
                pk=int(pk),
            )
        except (ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, deal: Deal) -> After:
        return cls(closed_at=deal.closed_at, position=deal.position, pk=deal.pk)

    def __str__(self) -> str:
        closed = (
            "" if self.closed_at is None else str((self.closed_at - EPOCH) // dt.timedelta(microseconds=1))
        )
        return f"{closed}.{self.position}.{self.pk}"

    def condition(self) -> Q:
        """The cards after this one in card order: closed_at descending with open cards (no closed_at) first,
        then position, then id."""
        same_time_later = Q(position__gt=self.position) | Q(position=self.position, pk__gt=self.pk)
        if self.closed_at is None:
            return Q(closed_at__isnull=True) & same_time_later | Q(closed_at__isnull=False)
        return Q(closed_at__lt=self.closed_at) | Q(closed_at=self.closed_at) & same_time_later


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = ZERO
    weighted: Decimal = ZERO
    limit: int = CARDS_PER_COLUMN
    stale_after_days: float | None = None
    cards: list[Card] = field(default_factory=list)
    has_more: bool = False  # cards after the last one shown (one more card than the page was read to know)
    shown_before: int = 0  # cards on the pages before this one (for "showing n of m")

    @property
    def next_after(self) -> str:
        """The cursor of the next page: after the last card of this one."""
        return str(After.of(self.cards[-1].deal)) if self.cards else ""

    @property
    def shown(self) -> int:
        return self.shown_before + len(self.cards)


@dataclass
class Board:
    pipeline: Pipeline
    pipelines: list[Pipeline]
    stages: list[Stage]
    columns: list[Column]
    scope: str
    scopes: list[str]
    open_count: int = 0  # over every open stage, also when only some columns are rendered
    open_total: Decimal = ZERO
    open_weighted: Decimal = ZERO
    closed_window_days: int = CLOSED_WINDOW_DAYS
    read_only: bool = False  # no drag, no "Move…" forms, no new deal (marketing reads the board)

    @property
    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if not s.is_closed]

    @property
    def open_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.stage.is_closed]


_PIPELINE_STAGES = JsonRows(model=Stage, where='t."pipeline_id" = "pipeline_pipeline"."id"')


def board_stages(*, pipeline_id: int | None) -> tuple[Pipeline, list[Pipeline], list[Stage]]:
    """The chosen (else default) pipeline, all pipelines for the switcher, and the chosen one's stages: one query
    (each pipeline's stages ride along as a JSON array: a handful of rows)."""
    pipelines: list[Pipeline] = list(Pipeline.objects.annotate(stages_json=_PIPELINE_STAGES.expression()))
    if not pipelines:
        pipelines = [pipeline_ensure_default()]
        return pipelines[0], pipelines, list(Stage.objects.filter(pipeline=pipelines[0]).order_by("order"))
    pipeline = next((p for p in pipelines if p.pk == pipeline_id), None) or next(
        (p for p in pipelines if p.is_default), pipelines[0]
    )
    return pipeline, pipelines, _stages(pipeline, _PIPELINE_STAGES, pipeline.stages_json)  # type: ignore[attr-defined]


def _stages(pipeline: Pipeline, rows: JsonRows, text: str) -> list[Stage]:
    """The pipeline's stages read along as JSON (rows.expression()), in board order."""
    stages: list[Stage] = sorted(rows.load(text), key=lambda s: s.order)
    for stage in stages:
        stage.pipeline = pipeline
    return stages


_DEAL_PIPELINE_STAGES = JsonRows(
    model=Stage,
    where='t."pipeline_id" = (SELECT s."pipeline_id" FROM "pipeline_stage" s '
    'WHERE s."id" = "pipeline_deal"."stage_id")',
)


def deal_to_move(*, viewer: User, pk: int) -> tuple[Deal, tuple[Pipeline, list[Pipeline], list[Stage]]]:
    """A deal the viewer may move (Deal.objects.visible_to; raises Deal.DoesNotExist for others'), with its stage
    and company, and its pipeline's stages (board_stages' answer, the pipeline alone in the list: what a move's
    form and the columns it redraws need): one query."""
    deal = (
        Deal.objects.visible_to(viewer)
        .select_related("stage__pipeline", "company")
        .annotate(stages_json=_DEAL_PIPELINE_STAGES.expression())
        .get(pk=pk)
    )
    pipeline = deal.stage.pipeline
    return deal, (pipeline, [pipeline], _stages(pipeline, _DEAL_PIPELINE_STAGES, deal.stages_json))


def stage_usual_seconds(stage_ids: list[int]) -> dict[int, int]:
    """The 75th percentile of the time deals spent in each stage over the last year: one aggregate query, whose
    answer is kept for a few minutes (it moves slowly, and over 100,000 deals it is the board's costliest query).

    Stages with too few past moves get no entry: there is no "usual" to compare against yet.
    """
    if not stage_ids:
        return {}
    key = "pipeline:usual-seconds:" + ",".join(map(str, sorted(stage_ids)))
    cached = cache.get(key)
    if cached is not None:
        return cached
    table = StageChange._meta.db_table
    placeholders = ", ".join(["%s"] * len(stage_ids))
    where = f"from_stage_id IN ({placeholders}) AND changed_at >= %s AND seconds_in_from_stage IS NOT NULL"
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT from_stage_id, PERCENTILE_DISC(0.75) WITHIN GROUP (ORDER BY seconds_in_from_stage)
            FROM {table} WHERE {where}
            GROUP BY from_stage_id HAVING COUNT(*) >= %s
        """
    else:  # the same value with window functions (SQLite has no ordered-set aggregates)
        sql = f"""
            SELECT from_stage_id, MIN(seconds) FROM (
                SELECT from_stage_id, seconds_in_from_stage AS seconds,
                       CUME_DIST() OVER (PARTITION BY from_stage_id ORDER BY seconds_in_from_stage) AS share,
                       COUNT(*) OVER (PARTITION BY from_stage_id) AS n
                FROM {table} WHERE {where}
            ) ranked
            WHERE share >= 0.75 AND n >= %s
            GROUP BY from_stage_id
        """
    since = timezone.now() - dt.timedelta(days=USUAL_TIME_LOOKBACK_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*stage_ids, since, USUAL_TIME_MIN_SAMPLES])
        result = {stage_id: int(seconds) for stage_id, seconds in cursor.fetchall()}
    cache.set(key, result, USUAL_TIME_CACHE_SECONDS)
    return result


CARD_ORDER = (F("closed_at").desc(nulls_first=True), F("position").asc(), F("id").asc())


def _owner_name(deal: Deal) -> str:
    """str(owner) from the owner's names read along with the card (CARD_OWNER_FIELDS)."""
    return str(User(**{name: getattr(deal, f"owner_{name}") for name in CARD_OWNER_FIELDS}))


def _first_cards(
    shown_deals: QuerySet[Deal], *, stage_ids: list[int], limits: dict[int, int], after: dict[int, After]
) -> QuerySet | RawSQL:
    """The ids of each column's first cards, up to its limit (those after its `after` card), as a subquery."""
    if connection.vendor == "postgresql" and stage_ids and not after:
        # The same index range per stage, from one subquery compiled once and joined LATERAL to the stages and
        # their limits (one more card than shown: whether the column goes on). Compiling a UNION part per stage,
        # each with the viewer's filters, was a sixth of the board's selector.
        per_stage, params = (
            shown_deals.filter(stage_id=RawSQL("board_stage.id", ()))
            .order_by(*CARD_ORDER)
            .values_list("pk")
            .query.sql_with_params()
        )
        return RawSQL(
            "SELECT c.deal_id FROM (VALUES "
            + ", ".join(["(%s, %s)"] * len(stage_ids))
            + ") AS board_stage (id, n) "
            f"CROSS JOIN LATERAL ({per_stage} LIMIT board_stage.n) AS c (deal_id)",
            [
                *(
                    value
                    for stage_id in stage_ids
                    for value in (stage_id, limits.get(stage_id, CARDS_PER_COLUMN) + 1)
                ),
                *params,
            ],
        )
    if connection.features.supports_slicing_ordering_in_compound and stage_ids:
        # One more card than shown: whether the column goes on.
        firsts = [
            shown_deals.filter(after[stage_id].condition() if stage_id in after else Q(), stage_id=stage_id)
            .order_by(*CARD_ORDER)
            .values("pk")[: limits.get(stage_id, CARDS_PER_COLUMN) + 1]
            for stage_id in stage_ids
        ]
        return firsts[0].union(*firsts[1:], all=True)
    row_limit = Case(
        *[When(stage_id=stage_id, then=Value(limit + 1)) for stage_id, limit in limits.items()],
        default=Value(CARDS_PER_COLUMN + 1),
        output_field=IntegerField(),
    )
    for stage_id, cursor in after.items():
        shown_deals = shown_deals.filter(~Q(stage_id=stage_id) | cursor.condition())
    return (
        shown_deals.annotate(
            rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=list(CARD_ORDER)),
            row_limit=row_limit,
        )
        .filter(rank__lte=F("row_limit"))
        .values("pk")
    )


def pipeline_board(
    *,
    viewer: User,
    filters: BoardFilters,
    stages_read: tuple[Pipeline, list[Pipeline], list[Stage]] | None = None,
    only_stage_ids: list[int] | None = None,
    limits: dict[int, int] | None = None,
    after: dict[int, After] | None = None,
    shown_before: dict[int, int] | None = None,
) -> Board:
    """The board for a viewer: a column per stage (or only `only_stage_ids`, after a move) with count, total and
    weighted total over every matching deal, and the first cards of each column (`limits` cards; those after the
    `after` card of a column: its next page)."""
    pipeline, pipelines, stages = stages_read or board_stages(pipeline_id=filters.pipeline_id)
    scopes = scopes_for(viewer)
    scope = filters.scope if filters.scope in scopes else scopes[0]
    shown = [s for s in stages if only_stage_ids is None or s.pk in only_stage_ids]
    stage_ids = [s.pk for s in shown]
    limits = {k: max(1, min(v, MAX_CARDS_PER_COLUMN)) for k, v in (limits or {}).items()}
    after = after or {}

    now = timezone.now()
    today = timezone.localdate(now)
    since = now - dt.timedelta(days=CLOSED_WINDOW_DAYS)
    matching = filtered_deals(viewer=viewer, filters=filters).filter(stage_id__in=[s.pk for s in stages])
    deals = matching.filter(Q(status=Deal.Status.OPEN) | Q(closed_at__gte=since))

    # Totals for every stage, so the board's summary stays right after a move too: one statement, the open deals
    # (no closed_at: the table's check) and those closed in the window as two ranges of deal_stage_cards_idx
    # read from the index alone (an OR of the two would read every deal's row).
    totals: dict[int, dict[str, Any]] = {}
    open_totals, closed_totals = (
        matching.filter(window)
        .order_by()
        .values("stage_id")
        .annotate(
            n=Count("pk"),
            total=Sum("amount"),
            weighted_sum=Sum(F("amount") * F("probability"), output_field=WEIGHTED_SUM),
        )
        for window in (Q(closed_at__isnull=True), Q(closed_at__gte=since))
    )
    for part in open_totals.union(closed_totals, all=True):  # a stage may have a row from each range
        summed = totals.setdefault(part["stage_id"], {"n": 0, "total": ZERO, "weighted_sum": ZERO})
        for key in ("n", "total", "weighted_sum"):
            summed[key] += part[key] or 0

    # The first cards of each column, up to the column's limit (won and lost hold every deal closed in the window:
    # tens of thousands at 100k deals). PostgreSQL: one index range per stage in card order, never all read.
    # SQLite allows no LIMIT inside a UNION: every matching deal is ranked instead, narrow rows only.
    shown_deals = deals.filter(stage_id__in=stage_ids)
    first_cards = _first_cards(shown_deals, stage_ids=stage_ids, limits=limits, after=after)
    rows = (
        Deal.objects.filter(InFirst(F("pk"), first_cards))
        .only(*CARD_FIELDS)
        .annotate(
            company_name=F("company__name"),
            **{f"owner_{name}": F(f"owner__{name}") for name in CARD_OWNER_FIELDS},
        )
        .order_by(*CARD_ORDER)
    )
    if item_counts := hooks.registered(hooks.DEAL_ITEM_COUNT):  # quotes: the cards' line items, same query
        rows = rows.annotate(item_count=item_counts[0]())
    # Every open stage's, also when only some columns are rendered: one cache entry serves the board, its moves and
    # its "more" pages.
    usual = stage_usual_seconds([s.pk for s in stages if not s.is_closed])

    columns = {
        s.pk: Column(
            stage=s,
            limit=limits.get(s.pk, CARDS_PER_COLUMN),
            shown_before=(shown_before or {}).get(s.pk, 0),
            stale_after_days=(
                None
                if s.is_closed
                else s.stale_after_days
                if s.stale_after_days is not None
                else (usual[s.pk] / 86400 if s.pk in usual else None)
            ),
        )
        for s in shown
    }
    open_count, open_total, open_weighted = 0, ZERO, ZERO
    closed_ids = {s.pk for s in stages if s.is_closed}
    for stage_id, row in totals.items():
        count, total, weighted = row["n"], row["total"] or ZERO, (row["weighted_sum"] or ZERO) / 100
        if stage_id not in closed_ids:
            open_count += count
            open_total += total
            open_weighted += weighted
        if stage_id in columns:
            column = columns[stage_id]
            column.count, column.total, column.weighted = count, total, weighted
    texts = CardTexts.reverse()
    owner_names: dict[int, str] = {}  # a board's cards have a few owners: str(owner) once each
    for deal in rows:
        column = columns[deal.stage_id]
        if len(column.cards) == column.limit:
            column.has_more = True
            continue
        days = (now - deal.stage_changed_at).days
        is_open = deal.status == Deal.Status.OPEN
        column.cards.append(
            Card(
                deal=deal,
                days_in_stage=days,
                is_stale=is_open and column.stale_after_days is not None and days > column.stale_after_days,
                next_step_overdue=is_open and deal.next_step_date is not None and deal.next_step_date < today,
                next_step_shown=is_open and (bool(deal.next_step) or deal.next_step_date is not None),
                texts=texts,
                company_name=deal.company_name or "",
                owner_name=owner_names.get(deal.owner_id)
                or owner_names.setdefault(deal.owner_id, _owner_name(deal)),
            )
        )
    return Board(
        pipeline=pipeline,
        pipelines=pipelines,
        stages=stages,
        columns=list(columns.values()),
        scope=scope,
        scopes=scopes,
        read_only=not can_edit_deals(viewer),
        open_count=open_count,
        open_total=open_total,
        open_weighted=open_weighted,
    )
