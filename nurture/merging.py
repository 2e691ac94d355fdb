"""LEAD_MERGING for nurture (salesmarketing.hooks; registered in NurtureConfig.ready()): the merged lead's static
segment places, enrolments and broadcast sends move to the survivor, one per survivor where a unique constraint
allows only one."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from leads.models import Lead
from nurture.models import (
    BroadcastSend,
    Enrolment,
    EnrolmentState,
    ExitReason,
    SegmentMember,
    SendStatus,
    SkipReason,
)


def lead_merging(*, survivor: Lead, merged: Lead, by: Any) -> dict[str, int]:
    now = timezone.now()
    # Static lists: the survivor is on every list either was on (a place it already has is not a second one).
    SegmentMember.objects.filter(
        lead=merged, segment__in=SegmentMember.objects.filter(lead=survivor).values("segment")
    ).delete()
    members = SegmentMember.objects.filter(lead=merged).update(lead=survivor)
    # Sequences: an active enrolment in a sequence the survivor is active in too ends (it would send each step
    # twice); every enrolment, with its send ledger, then belongs to the survivor.
    exited = (
        Enrolment.objects.filter(lead=merged, state=EnrolmentState.ACTIVE)
        .filter(
            sequence__in=Enrolment.objects.filter(lead=survivor, state=EnrolmentState.ACTIVE).values(
                "sequence"
            )
        )
        .update(
            state=EnrolmentState.EXITED,
            exit_reason=ExitReason.MERGED,
            ended_at=now,
            current_step=None,
            next_send_at=None,
        )
    )
    enrolments = Enrolment.objects.filter(lead=merged).update(lead=survivor)
    # Broadcasts (one ledger row per broadcast and lead): a row of a broadcast the survivor also has stays on
    # the merged lead as the record of what its address was sent; one still pending is skipped, not sent twice.
    both = Q(broadcast__in=BroadcastSend.objects.filter(lead=survivor).values("broadcast"))
    skipped = BroadcastSend.objects.filter(both, lead=merged, status=SendStatus.PENDING).update(
        status=SendStatus.SKIPPED, skip_reason=SkipReason.MERGED
    )
    sends = BroadcastSend.objects.filter(lead=merged).exclude(both).update(lead=survivor)
    return {
        "segment_members": members,
        "enrolments": enrolments,
        "enrolments_exited": exited,
        "broadcast_sends": sends,
        "broadcast_sends_skipped": skipped,
    }
