"""A deal's page: the deal, its activities, to-dos, stage history, where it came from and its custom fields'
definitions — one query for all of it (the lists ride along as JSON arrays: pipeline.selectors.json_rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.urls import NoReverseMatch
from django.utils import timezone

from leads.custom_fields.selectors import CustomFields, custom_fields
from leads.models import CustomObject, FieldDefinition, Lead
from pipeline.models import Activity, ActivityAttachment, Deal, Stage, StageChange, Task
from pipeline.selectors.json_rows import JsonRows, Related
from salesmarketing import hooks
from salesmarketing.models import User


@dataclass
class DealDetail:
    deal: Deal
    stages: list[Stage]
    activities: list[Activity]
    tasks: list[Task]
    history: list[StageChange]
    days_in_stage: int
    links: dict[str, str | None]
    custom: CustomFields  # the live definitions of deals' custom fields (the page's values and its edit form)

    @property
    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if not s.is_closed]


ACTIVITIES_SHOWN = 100


def deal_for_detail(*, viewer: User, pk: int) -> Deal:
    """The deal to act on, with everything its page shows in one query; raises Deal.DoesNotExist for other
    people's (and, for marketing, for every deal: it reads deals only)."""
    return _with_page_relations(Deal.objects.visible_to(viewer)).get(pk=pk)


def deal_for_reading(*, viewer: User, pk: int) -> Deal:
    """The deal to show on its page (`Deal.objects.readable_by`); raises Deal.DoesNotExist for others'."""
    return _with_page_relations(Deal.objects.readable_by(viewer)).get(pk=pk)


def _with_page_relations(deals):
    return deals.select_related(
        "company", "contact", "owner", "team", "stage__pipeline", "first_touch_campaign", "handoff"
    )


# What the page shows of a person (str(user)); the rest of the row stays unread.
_USER_FIELDS = ("id", "username", "display_name", "first_name", "last_name")
_DEAL = '"pipeline_deal"."id"'
_PAGE_ROWS = {
    "stages": JsonRows(
        model=Stage,
        where='t."pipeline_id" = (SELECT s."pipeline_id" FROM "pipeline_stage" s '
        'WHERE s."id" = "pipeline_deal"."stage_id")',
    ),
    "activities": JsonRows(
        model=Activity,
        where=f't."deal_id" = {_DEAL}',
        order='t."occurred_at" DESC, t."id" DESC',
        limit=ACTIVITIES_SHOWN,
        related=[Related("created_by", User, "created_by_id", _USER_FIELDS)],
    ),
    "tasks": JsonRows(
        model=Task,
        where=f't."deal_id" = {_DEAL}',
        related=[Related("assignee", User, "assignee_id", _USER_FIELDS)],
    ),
    "history": JsonRows(
        model=StageChange,
        where=f't."deal_id" = {_DEAL}',
        related=[
            Related("changed_by", User, "changed_by_id", _USER_FIELDS),
            # A stage of another pipeline (history from before a move between pipelines) by its names only.
            Related("from_stage", Stage, "from_stage_id", ("id", "name_ja", "name_en")),
            Related("to_stage", Stage, "to_stage_id", ("id", "name_ja", "name_en")),
        ],
    ),
    # leads.custom_fields.selectors.custom_fields(object_type=deal): the live definitions.
    "custom": JsonRows(
        model=FieldDefinition, where=f't."object_type" = \'{CustomObject.DEAL}\' AND t."archived_at" IS NULL'
    ),
}
_LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


def deal_page(*, viewer: User, pk: int) -> tuple[Deal, DealDetail]:
    """The deal the viewer may read (`Deal.objects.readable_by`) with everything its page shows, in one query:
    its company, contact, owner, team, stage, pipeline, campaign and handoff joined, its pipeline's stages,
    latest activities, to-dos, stage history and the custom fields' definitions as JSON arrays, and its number of
    line items where an app counts them (hooks.DEAL_ITEM_COUNT: quotes). Raises Deal.DoesNotExist for others'
    deals."""
    deals = _with_page_relations(Deal.objects.readable_by(viewer)).annotate(
        **{f"page_{name}": rows.expression() for name, rows in _PAGE_ROWS.items()}
    )
    if item_counts := hooks.registered(hooks.DEAL_ITEM_COUNT):
        deals = deals.annotate(item_count=item_counts[0]())
    deal = deals.get(pk=pk)
    lists = {name: rows.load(getattr(deal, f"page_{name}")) for name, rows in _PAGE_ROWS.items()}
    stages: list[Stage] = sorted(lists["stages"], key=lambda s: s.order)
    by_id = {s.pk: s for s in stages}
    for s in stages:
        s.pipeline = deal.stage.pipeline
    history: list[StageChange] = lists["history"]
    for change in history:
        # The full stage rows where the pipeline's own stages are (their names follow the language either way).
        if change.from_stage_id in by_id:
            change.from_stage = by_id[change.from_stage_id]
        if change.to_stage_id in by_id:
            change.to_stage = by_id[change.to_stage_id]
    history.sort(key=lambda c: (c.changed_at, c.pk), reverse=True)
    activities: list[Activity] = lists["activities"]
    activities.sort(key=lambda a: (a.occurred_at, a.pk), reverse=True)
    tasks: list[Task] = lists["tasks"]
    tasks.sort(key=lambda t: (t.done_at is not None, t.done_at or _LAST, t.due_date, t.pk))
    definitions: list[FieldDefinition] = lists["custom"]
    definitions.sort(key=lambda d: (d.position, d.pk))
    detail = DealDetail(
        deal=deal,
        stages=stages,
        activities=activities,
        tasks=tasks,
        history=history,
        days_in_stage=(timezone.now() - deal.stage_changed_at).days,
        links=_links(deal),
        custom=CustomFields(all=definitions),
    )
    return deal, detail


def _links(deal: Deal) -> dict[str, str | None]:
    return {
        "company": _url_or_none(deal.company),
        "contact": _url_or_none(deal.contact),
        "campaign": _url_or_none(deal.first_touch_campaign),
    }


def deal_detail(*, deal: Deal, custom: CustomFields | None = None) -> DealDetail:
    """The page's lists for a deal already read (after a form post): a query per list, and one for the custom
    fields' definitions unless the view read them already."""
    return DealDetail(
        deal=deal,
        stages=list(Stage.objects.filter(pipeline_id=deal.stage.pipeline_id).order_by("order")),
        activities=deal_activities(deal=deal),
        tasks=deal_tasks(deal=deal),
        history=list(
            StageChange.objects.filter(deal=deal)
            .select_related("from_stage", "to_stage", "changed_by")
            .order_by("-changed_at", "-id")
        ),
        days_in_stage=(timezone.now() - deal.stage_changed_at).days,
        links=_links(deal),
        custom=custom if custom is not None else custom_fields(object_type=CustomObject.DEAL),
    )


def deal_activities(*, deal: Deal) -> list[Activity]:
    return list(
        Activity.objects.filter(deal=deal)
        .select_related("created_by")
        .order_by("-occurred_at", "-id")[:ACTIVITIES_SHOWN]
    )


def deal_tasks(*, deal: Deal) -> list[Task]:
    return list(Task.objects.filter(deal=deal).select_related("assignee"))


def _url_or_none(obj) -> str | None:
    """The object's page, or None while the app that owns it has not built that page yet."""
    if obj is None:
        return None
    try:
        return obj.get_absolute_url()
    except (NoReverseMatch, AttributeError):
        return None


def activity_attachment(*, viewer: User, activity_id: int, attachment_id: int) -> ActivityAttachment | None:
    """An e-mail attachment the viewer may see: its activity's deal is readable by them, or its lead visible."""
    visible = Q(activity__deal__in=Deal.objects.readable_by(viewer)) | Q(
        activity__lead__in=Lead.objects.visible_to(viewer)
    )
    return ActivityAttachment.objects.filter(visible, pk=attachment_id, activity_id=activity_id).first()
