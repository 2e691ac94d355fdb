"""What nurture's segments register at salesmarketing.hooks (in NurtureConfig.ready())."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.bulk_actions.extra import ExtraAction
from leads.models import BulkAction
from nurture.models import Segment, SegmentKind
from nurture.segments.selectors import can_edit, static_segments
from nurture.segments.services import segment_members_add


def lead_list_actions(*, user) -> list[tuple[str, str]]:
    """The lead list's bulk bar: "add the selected leads to a static segment", for those who edit segments."""
    if not can_edit(user):
        return []
    return [(_("Add to a static segment"), reverse("nurture:segment_add_leads"))]


def _static_list(target_id: int) -> Segment:
    return Segment.objects.get(pk=target_id, kind=SegmentKind.STATIC)


def _add_batch(*, target_id: int, lead_ids: list[int], by) -> int:
    return segment_members_add(segment=_static_list(target_id), lead_ids=lead_ids, viewer=by)


def lead_bulk_actions(*, user) -> list[ExtraAction]:
    """The lead list's bulk jobs: "add to a static list" (every lead the filter matches, if asked), for those who
    edit segments. Members go in once (the list's unique constraint), so a retried batch adds nothing twice."""
    if not can_edit(user):
        return []
    return [
        ExtraAction(
            key=BulkAction.SEGMENT,
            label=BulkAction.SEGMENT.label,
            target_label=gettext_lazy("Static list"),
            targets=lambda: [(s.pk, s.name) for s in static_segments()],
            check=lambda *, target_id: _static_list(target_id),
            apply=_add_batch,
        )
    ]
