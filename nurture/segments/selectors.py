"""Reads of segments."""

from __future__ import annotations

from django.db.models import QuerySet

from leads.models import Lead
from nurture.models import Segment, SegmentKind, SegmentMember


def segment_leads(segment: Segment) -> QuerySet[Lead]:
    """The segment's leads, as one query (no Python loop over leads)."""
    if segment.kind == SegmentKind.STATIC:
        return Lead.objects.filter(id__in=SegmentMember.objects.filter(segment=segment).values("lead_id"))
    raise NotImplementedError("dynamic segments: nurture.segments compiles their rules")  # being built (#18)
