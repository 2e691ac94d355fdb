"""Reads for sequences: the list, a sequence's steps with their counts, its enrolments (paginated), a lead's."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from leads.models import Lead
from nurture.mail.outcomes import Outcomes, step_annotations
from nurture.mail.selectors import can_manage_mail
from nurture.models import Enrolment, EnrolmentState, Sequence, SequenceStep, StepSend
from salesmarketing.models import User

ENROLMENTS_PAGE_SIZE = 50


def can_manage_sequences(user: User) -> bool:
    """As for the other email pages: marketing, managers and admins; sales reps do not see sequences."""
    return can_manage_mail(user)


def _count(qs: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(qs.order_by().values("sequence_id").annotate(n=Count("pk")).values("n")[:1]),
        0,
        output_field=IntegerField(),
    )


def sequence_list() -> QuerySet[Sequence]:
    """Every sequence with its number of steps and of active enrolments (sub-selects: one query)."""
    return (
        Sequence.objects.select_related("trigger_segment")
        .annotate(
            step_count=_count(SequenceStep.objects.filter(sequence_id=OuterRef("pk"))),
            active_count=_count(
                Enrolment.objects.filter(sequence_id=OuterRef("pk"), state=EnrolmentState.ACTIVE)
            ),
        )
        .order_by("name", "id")
    )


def active_sequences() -> QuerySet[Sequence]:
    return Sequence.objects.order_by("name", "id")


@dataclass
class StepStats:
    step: SequenceStep
    outcomes: Outcomes


def step_stats(sequence: Sequence) -> list[StepStats]:
    """Each step with what became of its messages (nurture.mail.outcomes; "unsubscribed" is before any later
    step), in two queries whatever the number of leads."""
    steps = list(
        SequenceStep.objects.filter(sequence=sequence).select_related("template").order_by("position", "id")
    )
    rows = (
        StepSend.objects.filter(step__sequence=sequence)
        .values("step_id")
        .annotate(**step_annotations())
        .order_by()
    )
    by_step: dict[int, dict] = {row["step_id"]: dict(row) for row in rows}
    return [StepStats(step=step, outcomes=Outcomes.of(by_step.get(step.pk, {}))) for step in steps]


def enrolment_page(*, sequence: Sequence, viewer: User, page_number) -> Page:
    """A page of the sequence's enrolments the viewer may see (newest first)."""
    enrolments = Enrolment.objects.filter(sequence=sequence)
    if viewer.role == User.Role.SALES:  # everyone else sees every lead: no filter to pay for
        enrolments = enrolments.filter(lead__in=Lead.objects.visible_to(viewer))
    enrolments = enrolments.select_related("lead", "current_step", "ended_by", "handoff").order_by("-id")
    return Paginator(enrolments, ENROLMENTS_PAGE_SIZE).get_page(page_number)


# What a listed enrolment shows besides its own columns: the sequence, the next step, who removed the lead, and
# the rejected handoff that enrolled it (its rejection reason), joined in the list's one query.
ENROLMENT_RELATED = ("sequence", "current_step", "ended_by", "handoff")


def lead_enrolments(lead_id: int) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(lead_id=lead_id).select_related(*ENROLMENT_RELATED).order_by("-id")


def enrolment_read(enrolment_id: int) -> Enrolment | None:
    return Enrolment.objects.select_related(*ENROLMENT_RELATED).filter(pk=enrolment_id).first()


@dataclass
class EnrolmentKeysetPage:
    enrolments: list[Enrolment]
    next_after: int | None  # the id to continue after (keyset), None on the last page


def sequence_enrolments_after(
    *, sequence: Sequence, viewer: User | None, after: int | None = None
) -> EnrolmentKeysetPage:
    """The API's page of a sequence's enrolments the viewer may see (None: an integration's key, every lead),
    newest first by keyset on the id (the sequence page's list, without OFFSET)."""
    enrolments = Enrolment.objects.filter(sequence=sequence)
    if viewer is not None and viewer.role == User.Role.SALES:
        enrolments = enrolments.filter(lead__in=Lead.objects.visible_to(viewer))
    if after is not None:
        enrolments = enrolments.filter(id__lt=after)
    rows = list(enrolments.select_related(*ENROLMENT_RELATED).order_by("-id")[: ENROLMENTS_PAGE_SIZE + 1])
    more = len(rows) > ENROLMENTS_PAGE_SIZE
    rows = rows[:ENROLMENTS_PAGE_SIZE]
    return EnrolmentKeysetPage(enrolments=rows, next_after=rows[-1].pk if more else None)
