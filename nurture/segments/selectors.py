"""Reads of segments: members (one query for either kind), counts, a page of members, the list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from leads.models import Lead
from nurture.models import Segment, SegmentKind, SegmentMember
from nurture.segments.rules import compile_rules
from salesmarketing.models import User

MEMBERS_PAGE_SIZE = 50


def can_edit(user: Any) -> bool:
    """Segments are marketing's tool: marketing, managers and admins build them; everyone else only looks (as
    on the campaign pages)."""
    return bool(user.is_superuser or user.role in (User.Role.MARKETING, User.Role.MANAGER, User.Role.ADMIN))


def rules_leads(rules: dict) -> QuerySet[Lead]:
    """The leads a valid rule tree matches, as one query."""
    return Lead.objects.filter(compile_rules(rules))


def segment_leads(segment: Segment) -> QuerySet[Lead]:
    """The segment's leads, as one query (no Python loop over leads). Erased leads are gone with their rows (and
    their static memberships, by cascade), so they never appear."""
    if segment.kind == SegmentKind.STATIC:
        return Lead.objects.filter(id__in=SegmentMember.objects.filter(segment=segment).values("lead_id"))
    return rules_leads(segment.rules)


def visible_members(leads: QuerySet[Lead], viewer: User | None) -> QuerySet[Lead]:
    """What of `leads` the viewer may see; an integration's API key (no user) sees every lead."""
    return leads if viewer is None else leads & Lead.objects.visible_to(viewer)


@dataclass(frozen=True)
class MemberCount:
    visible: int
    total: int  # equals `visible` unless the viewer sees only some leads (a sales rep)

    @property
    def is_partial(self) -> bool:
        return self.visible != self.total


def _sees_every_lead(viewer: User | None) -> bool:
    return viewer is None or viewer.role != User.Role.SALES


def leads_count(leads: QuerySet[Lead], viewer: User | None) -> MemberCount:
    """One COUNT for someone who sees every lead; a second for a rep, so the page can say how many are hidden."""
    visible = visible_members(leads, viewer).count()
    total = visible if _sees_every_lead(viewer) else leads.count()
    return MemberCount(visible=visible, total=total)


def segment_count(*, segment: Segment, viewer: User | None) -> MemberCount:
    return leads_count(segment_leads(segment), viewer)


@dataclass(frozen=True)
class MemberPage:
    leads: list[Lead]
    next_after: int | None  # the id to continue after (keyset), None on the last page
    after: int | None


def segment_member_page(*, segment: Segment, viewer: User | None, after: int | None = None) -> MemberPage:
    """One page of the members the viewer may see, newest lead first, by keyset on the id: each page reads only
    its rows (no OFFSET over a million, no COUNT per page)."""
    leads = visible_members(segment_leads(segment), viewer).select_related("company", "owner").order_by("-id")
    if after is not None:
        leads = leads.filter(id__lt=after)
    rows = list(leads[: MEMBERS_PAGE_SIZE + 1])
    more = len(rows) > MEMBERS_PAGE_SIZE
    rows = rows[:MEMBERS_PAGE_SIZE]
    return MemberPage(leads=rows, next_after=rows[-1].pk if more else None, after=after)


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "id")


def static_segments() -> QuerySet[Segment]:
    return Segment.objects.filter(kind=SegmentKind.STATIC).order_by("name", "id")
