"""Writes for sequences: the sequence and its steps, enrolment (by hand, a selection, a segment's new members, a
handoff rejected as too early / no budget) and exits. Sending is nurture.sequences.sending.

Enrolment is one `INSERT … SELECT` whatever the number of leads (no Python loop over leads): the candidates are
the leads that may be emailed and are not yet MQL or beyond; `ON CONFLICT DO NOTHING` on the partial unique index
(one active enrolment per lead and sequence) keeps a lead from entering twice at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.choices import LifecycleStage
from leads.models import Handoff, Lead, LeadQuerySet
from nurture.models import (
    EmailTemplate,
    Enrolment,
    EnrolmentSource,
    EnrolmentState,
    ExitReason,
    Sequence,
    SequenceStatus,
    SequenceStep,
)
from nurture.segments.selectors import segment_leads
from nurture.sequences.calendar import step_due
from salesmarketing import hooks
from salesmarketing.models import User

# A lead at one of these stages is sales' now: it is not enrolled, and an enrolled one leaves.
ENGAGED_STAGES = (LifecycleStage.MQL, LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER)
SEQUENCE_FIELDS = (
    "name",
    "language",
    "campaign",
    "trigger_segment",
    "on_reject_too_early",
    "on_reject_no_budget",
)


def eligible_leads() -> QuerySet[Lead]:
    """Leads a sequence may enrol: emailable (consent, not unsubscribed) and not yet MQL or beyond."""
    return Lead.objects.emailable().exclude(lifecycle_stage__in=ENGAGED_STAGES)


# --- Sequences and steps ---------------------------------------------------------------------------------------


@transaction.atomic
def sequence_save(*, sequence: Sequence | None = None, by: User | None, **values) -> Sequence:
    if sequence is None:
        sequence = Sequence(created_by=by)
    for name in SEQUENCE_FIELDS:
        if name in values:
            setattr(sequence, name, values[name])
    sequence.full_clean()
    sequence.save()
    return sequence


def sequence_set_status(*, sequence: Sequence, status: str) -> Sequence:
    """Pause (no step is queued or sent while paused) or resume."""
    if status not in SequenceStatus.values:
        raise ValidationError(_("Unknown status."), code="status")
    Sequence.objects.filter(pk=sequence.pk).update(status=status, updated_at=timezone.now())
    sequence.refresh_from_db()
    return sequence


def _steps(sequence: Sequence) -> list[SequenceStep]:
    return list(SequenceStep.objects.filter(sequence=sequence).order_by("position", "id"))


def _renumber(sequence: Sequence, ordered: list[SequenceStep]) -> None:
    """Positions 1…n in this order, in two passes so the unique (sequence, position) never collides."""
    offset = 1000
    for index, step in enumerate(ordered, start=1):
        SequenceStep.objects.filter(pk=step.pk).update(position=offset + index)
    for index, step in enumerate(ordered, start=1):
        SequenceStep.objects.filter(pk=step.pk).update(position=index)
        step.position = index


@transaction.atomic
def step_add(*, sequence: Sequence, template: EmailTemplate, wait_days: int, send_hour: int) -> SequenceStep:
    Sequence.objects.select_for_update().filter(pk=sequence.pk).first()
    last = SequenceStep.objects.filter(sequence=sequence).order_by("-position").first()
    step = SequenceStep(
        sequence=sequence,
        template=template,
        wait_days=wait_days,
        send_hour=send_hour,
        position=(last.position + 1) if last else 1,
    )
    step.full_clean()
    step.save()
    # Enrolments that had finished every earlier step and wait for "the next" one: none (they completed).
    return step


@transaction.atomic
def step_update(
    *, step: SequenceStep, template: EmailTemplate, wait_days: int, send_hour: int
) -> SequenceStep:
    step.template, step.wait_days, step.send_hour = template, wait_days, send_hour
    step.full_clean()
    step.save(update_fields=["template", "wait_days", "send_hour"])
    return step


@transaction.atomic
def step_remove(*, step: SequenceStep) -> None:
    """Remove a step; enrolments waiting for it move on to the step after it (same due time), or complete."""
    if step.sends.exists():
        raise ValidationError(
            _("This step was already sent to leads; its history stays. Pause the sequence instead."),
            code="sent",
        )
    sequence = Sequence.objects.select_for_update().get(pk=step.sequence_id)
    steps = _steps(sequence)
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    following = steps[index + 1] if index + 1 < len(steps) else None
    waiting = Enrolment.objects.filter(current_step=step, state=EnrolmentState.ACTIVE)
    if following is not None:
        waiting.update(current_step=following)
    else:
        waiting.update(
            state=EnrolmentState.COMPLETED, current_step=None, next_send_at=None, ended_at=timezone.now()
        )
    removed = step.pk
    step.delete()
    _renumber(sequence, [s for s in steps if s.pk != removed])


@transaction.atomic
def step_move(*, step: SequenceStep, direction: str) -> None:
    """Move a step up or down by one. Enrolments keep their next step (the same template and wait)."""
    sequence = Sequence.objects.select_for_update().get(pk=step.sequence_id)
    steps = _steps(sequence)
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(steps):
        steps[index], steps[other] = steps[other], steps[index]
        _renumber(sequence, steps)


# --- Enrolment -------------------------------------------------------------------------------------------------


# nurture_enrolment_active_unique, as ON CONFLICT names it (PostgreSQL and SQLite alike).
ACTIVE_CONFLICT = "(sequence_id, lead_id) WHERE state = 'active'"


def _eligible(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """`leads` limited to eligible_leads(): its conditions added to the same scan of the lead table (a second scan
    joined by id costs a third of a 100,000-lead enrolment); a sliced or combined queryset is filtered by id."""
    if leads.query.is_sliced or leads.query.combinator or not isinstance(leads, LeadQuerySet):
        return eligible_leads().filter(pk__in=leads.values("pk"))
    # merged_into: Lead.objects' own condition, in case `leads` started from Lead.all_objects
    eligible = leads.order_by().emailable().exclude(lifecycle_stage__in=ENGAGED_STAGES)
    return eligible.filter(merged_into__isnull=True)


def _first_step(sequence: Sequence) -> SequenceStep:
    first = SequenceStep.objects.filter(sequence=sequence).order_by("position", "id").first()
    if first is None:
        raise ValidationError(_("Add a step to the sequence before enrolling leads."), code="no_steps")
    return first


def enrol_leads(
    *,
    sequence: Sequence,
    leads: QuerySet[Lead],
    source: str,
    by: User | None = None,
    only_new: bool = False,
    now: dt.datetime | None = None,
    handoff: Handoff | None = None,
) -> int:
    """Enrol the eligible ones of `leads` in one INSERT … SELECT; those already active in the sequence are left as
    they are (and with `only_new`, every lead ever enrolled in it). `handoff`: the rejected handoff that enrolls
    them (its reason shows on the timeline). Returns how many were enrolled."""
    now = now or timezone.now()
    first = _first_step(sequence)
    due = step_due(now, wait_days=first.wait_days, send_hour=first.send_hour)
    candidates = _eligible(leads)
    if only_new:
        candidates = candidates.exclude(
            Exists(Enrolment.objects.filter(sequence=sequence, lead_id=OuterRef("pk")))
        )
    rows = candidates.annotate(
        f_sequence=Value(sequence.pk, output_field=IntegerField()),
        f_lead=F("pk"),
        f_state=Value(EnrolmentState.ACTIVE.value, output_field=CharField()),
        f_source=Value(source, output_field=CharField()),
        f_reason=Value("", output_field=CharField()),
        f_step=Value(first.pk, output_field=IntegerField()),
        f_due=Value(due, output_field=DateTimeField()),
        f_at=Value(now, output_field=DateTimeField()),
        # A NULL parameter has no type in PostgreSQL: cast it to the column's.
        f_by=Cast(Value(by.pk if by else None, output_field=BigIntegerField()), BigIntegerField()),
        f_handoff=Cast(
            Value(handoff.pk if handoff else None, output_field=BigIntegerField()), BigIntegerField()
        ),
    ).values_list(
        "f_sequence",
        "f_lead",
        "f_state",
        "f_source",
        "f_reason",
        "f_step",
        "f_due",
        "f_at",
        "f_by",
        "f_handoff",
    )
    select_sql, params = rows.query.sql_with_params()
    columns = (
        "sequence_id, lead_id, state, source, exit_reason, current_step_id, next_send_at, enrolled_at, "
        "enrolled_by_id, handoff_id"
    )
    # `WHERE 1 = 1`: SQLite would read ON CONFLICT as part of the SELECT otherwise (as in nurture.mail.sending).
    # The conflict target is the one-active-enrolment index alone: the only one an enrolment can collide with.
    sql = (
        f"INSERT INTO {Enrolment._meta.db_table} ({columns}) SELECT * FROM ({select_sql}) enrol WHERE 1 = 1 "
        f"ON CONFLICT {ACTIVE_CONFLICT} DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def enrol_lead(
    *, sequence: Sequence, lead: Lead, by: User | None, source: str = EnrolmentSource.MANUAL
) -> Enrolment:
    """One lead by hand (the lead page, the API): refused with the reason when it cannot be enrolled."""
    if not eligible_leads().filter(pk=lead.pk).exists():
        raise ValidationError(
            _("This lead cannot be enrolled: no email consent, unsubscribed, or already MQL or beyond."),
            code="ineligible",
        )
    enrolled = enrol_leads(sequence=sequence, leads=Lead.objects.filter(pk=lead.pk), source=source, by=by)
    if not enrolled:
        raise ValidationError(_("This lead is already in the sequence."), code="duplicate")
    return Enrolment.objects.get(sequence=sequence, lead=lead, state=EnrolmentState.ACTIVE)


def enrol_selection(*, sequence: Sequence, lead_ids: Iterable[int], viewer: User) -> int:
    """The lead list's selection, limited to the leads the viewer may see."""
    leads = Lead.objects.visible_to(viewer).filter(pk__in=list(lead_ids))
    return enrol_leads(sequence=sequence, leads=leads, source=EnrolmentSource.MANUAL, by=viewer)


def enrol_segment_entries(*, now: dt.datetime | None = None) -> dict[int, int]:
    """Each active sequence with a trigger segment enrols the segment's members never enrolled in it before (the
    beat runs this; a lead that entered the segment is enrolled once). One INSERT … SELECT per sequence."""
    enrolled = {}
    sequences = Sequence.objects.filter(
        status=SequenceStatus.ACTIVE, trigger_segment__isnull=False
    ).select_related("trigger_segment")
    for sequence in sequences:
        if not SequenceStep.objects.filter(sequence=sequence).exists():
            continue
        assert sequence.trigger_segment is not None
        enrolled[sequence.pk] = enrol_leads(
            sequence=sequence,
            leads=segment_leads(sequence.trigger_segment),
            source=EnrolmentSource.SEGMENT,
            only_new=True,
            now=now,
        )
    return enrolled


REJECT_TRIGGERS: dict[str, str] = {
    Handoff.RejectReason.TOO_EARLY: "on_reject_too_early",
    Handoff.RejectReason.NO_BUDGET: "on_reject_no_budget",
}


def enrol_rejected_handoff(*, handoff: Handoff, by: User | None = None) -> int:
    """The HANDOFF_REJECTED hook (called in the rejection's transaction): a lead sales rejected as too early or no
    budget enters every active sequence that asks for that reason. Other reasons enrol nobody."""
    flag = REJECT_TRIGGERS.get(handoff.reject_reason)
    if flag is None:
        return 0
    total = 0
    for sequence in Sequence.objects.filter(status=SequenceStatus.ACTIVE, **{flag: True}):
        if SequenceStep.objects.filter(sequence=sequence).exists():
            total += enrol_leads(
                sequence=sequence,
                leads=Lead.objects.filter(pk=handoff.lead_id),
                source=EnrolmentSource.HANDOFF_REJECTED,
                by=by,
                handoff=handoff,
            )
    return total


# --- Exits -----------------------------------------------------------------------------------------------------


def enrolment_exit(*, enrolment: Enrolment, by: User | None, reason: str = ExitReason.REMOVED) -> bool:
    """active → exited with the reason, and who took the lead out (None: the system, or an integration's key);
    False when it had already ended."""
    return bool(
        Enrolment.objects.filter(pk=enrolment.pk, state=EnrolmentState.ACTIVE).update(
            state=EnrolmentState.EXITED,
            exit_reason=reason,
            ended_at=timezone.now(),
            ended_by=by,
            next_send_at=None,
        )
    )


def lead_replied(*, lead_id: int) -> int:
    """A reply from the lead (an e-mail it wrote, read from the mailbox: nurture.sequences.hooks) ends its active
    enrolments with the reason "replied"; the number ended."""
    return Enrolment.objects.filter(lead_id=lead_id, state=EnrolmentState.ACTIVE).update(
        state=EnrolmentState.EXITED,
        exit_reason=ExitReason.REPLIED,
        ended_at=timezone.now(),
        next_send_at=None,
    )


def exit_conditions() -> list[tuple[str, Q]]:
    """Why an active enrolment ends, first match wins: unsubscribed, consent withdrawn, a deal or a handoff since
    it was enrolled, or the lead became MQL (or beyond). A bounce withdraws consent too (nurture.mail.bounces):
    it is named before consent so the exit says why."""
    conditions: list[tuple[str, Q]] = [
        (ExitReason.UNSUBSCRIBED, Q(lead__unsubscribed_at__isnull=False)),
        (ExitReason.BOUNCED, Q(lead__email_undeliverable_at__isnull=False)),
        (ExitReason.CONSENT_WITHDRAWN, Q(lead__consent_email=False)),
    ]
    for deals in hooks.call(hooks.DEALS):
        since = deals.filter(contact_id=OuterRef("lead_id"), created_at__gte=OuterRef("enrolled_at"))
        conditions.append((ExitReason.DEAL, Q(Exists(since))))
    handoffs = Handoff.objects.filter(lead_id=OuterRef("lead_id"), created_at__gte=OuterRef("enrolled_at"))
    conditions.append((ExitReason.HANDOFF, Q(Exists(handoffs))))
    conditions.append((ExitReason.MQL, Q(lead__lifecycle_stage__in=ENGAGED_STAGES)))
    return conditions


def exits_apply(*, now: dt.datetime | None = None) -> dict[str, int]:
    """End the active enrolments whose lead left (one UPDATE per reason); run before each send run."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for reason, condition in exit_conditions():
        ids = Enrolment.objects.filter(condition, state=EnrolmentState.ACTIVE).values("pk")
        n = Enrolment.objects.filter(pk__in=ids, state=EnrolmentState.ACTIVE).update(
            state=EnrolmentState.EXITED, exit_reason=reason, ended_at=now, next_send_at=None
        )
        if n:
            counts[str(reason)] = counts.get(str(reason), 0) + n
    return counts
