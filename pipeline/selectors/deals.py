"""A deal's page: the deal, its activities, to-dos, stage history and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.urls import NoReverseMatch
from django.utils import timezone

from leads.models import Lead
from pipeline.models import Activity, ActivityAttachment, Deal, Stage, StageChange, Task
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


def deal_detail(*, deal: Deal) -> DealDetail:
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
        links={
            "company": _url_or_none(deal.company),
            "contact": _url_or_none(deal.contact),
            "campaign": _url_or_none(deal.first_touch_campaign),
        },
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
