"""Sending a sequence's steps: each step to each enrolled lead exactly once, through the broadcasts' sending path.

A run (`sequence_run`, the beat's task every minute on the `email` queue) does three things:

1. **Exits** (`services.exits_apply`): active enrolments whose lead unsubscribed, withdrew consent, got a deal or a
   handoff, or became MQL end with that reason (one UPDATE per reason).
2. **Queue the due steps** (`steps_queue`): in one transaction, due enrolments are locked with
   `SELECT … FOR UPDATE SKIP LOCKED` (two runs never take the same one), a ledger row (`StepSend`, unique per
   enrolment and step) is inserted for each one's current step, and the enrolment moves on: its next step is due
   that step's wait in business days later (nurture.sequences.calendar), or it completes after the last step.
3. **Send the pending rows** (`steps_send`), exactly as a broadcast's rows are sent (nurture/mail/sending.py):
   render, claim with a conditional UPDATE (pending → sending; the same statement checks that the sequence is
   active, the enrolment has not exited and the lead may still be emailed), hand to the mail backend, mark sent.
   A row claimed by a worker that died before the mark is given up as `unknown` after EMAIL_SEND_STALE_SECONDS,
   never sent again. The message carries the sender profile's legal footer, List-Unsubscribe one-click headers,
   the open pixel and signed click links (nurture.mail.rendering.build_message).

Re-running any part sends nothing twice: the ledger row is unique, and only a pending row can be claimed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateSyntaxError
from django.utils import timezone

from nurture.mail import rendering
from nurture.mail.selectors import sender_profile
from nurture.mail.sending import TemporaryFailure, describe, ledger_after_error, ledger_mark
from nurture.models import Enrolment, EnrolmentState, SendStatus, SequenceStatus, SequenceStep, StepSend
from nurture.sequences.calendar import step_due
from nurture.sequences.services import eligible_leads, exits_apply


@dataclass
class RunResult:
    exited: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    stopped: str = ""


def batch_size() -> int:
    return settings.SEQUENCE_BATCH_SIZE


def sequence_run(*, now: dt.datetime | None = None) -> RunResult:
    now = now or timezone.now()
    result = RunResult(exited=exits_apply(now=now))
    stale = now - dt.timedelta(seconds=settings.EMAIL_SEND_STALE_SECONDS)
    result.unknown = StepSend.objects.filter(status=SendStatus.SENDING, claimed_at__lt=stale).update(
        status=SendStatus.UNKNOWN, error="worker stopped between the claim and the mark; not sent again"
    )
    result.queued = steps_queue(now=now)
    steps_send(now=now, result=result)
    return result


# --- Queue the due steps ---------------------------------------------------------------------------------------


def steps_queue(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Ledger rows for up to `limit` due enrolments, and each enrolment moved on to its next step (or completed)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Enrolment.objects.filter(
                state=EnrolmentState.ACTIVE,
                next_send_at__lte=now,
                current_step__isnull=False,
                sequence__status=SequenceStatus.ACTIVE,
            )
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_send_at", "id")[: limit or batch_size()]
        )
        if not due:
            return 0
        steps_by_sequence: dict[int, list[SequenceStep]] = {}
        for step in SequenceStep.objects.filter(sequence_id__in={e.sequence_id for e in due}).order_by(
            "sequence_id", "position", "id"
        ):
            steps_by_sequence.setdefault(step.sequence_id, []).append(step)
        rows = []
        for enrolment in due:
            steps = steps_by_sequence.get(enrolment.sequence_id, [])
            rows.append(StepSend(enrolment=enrolment, step_id=enrolment.current_step_id))
            ids = [s.pk for s in steps]
            index = ids.index(enrolment.current_step_id) if enrolment.current_step_id in ids else len(ids)
            following = steps[index + 1] if index + 1 < len(steps) else None
            if following is None:
                enrolment.state = EnrolmentState.COMPLETED
                enrolment.current_step = None
                enrolment.next_send_at = None
                enrolment.ended_at = now
            else:
                enrolment.current_step = following
                enrolment.next_send_at = step_due(
                    now, wait_days=following.wait_days, send_hour=following.send_hour
                )
        StepSend.objects.bulk_create(rows, ignore_conflicts=True)
        Enrolment.objects.bulk_update(due, ["state", "current_step", "next_send_at", "ended_at"])
    return len(due)


# --- Send the pending rows -------------------------------------------------------------------------------------


def steps_send(*, now: dt.datetime | None = None, result: RunResult | None = None) -> RunResult:
    """Send up to a batch of pending ledger rows; a mail server that is down stops the run (rows stay pending)."""
    now = now or timezone.now()
    result = result or RunResult()
    profile = sender_profile()
    if profile.missing_fields():
        result.stopped = "sender profile incomplete"
        return result
    rows = list(
        StepSend.objects.filter(status=SendStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related(
            "step__template", "enrolment__sequence", "enrolment__lead__company", "enrolment__lead__owner"
        )
        .order_by("id")[: batch_size()]
    )
    if not rows:
        return result
    try:
        with get_connection(fail_silently=False) as connection:
            for row in rows:
                outcome = _send_row(row, profile=profile, connection=connection)
                if outcome in ("sent", "failed", "skipped"):
                    setattr(result, outcome, getattr(result, outcome) + 1)
    except TemporaryFailure as exc:
        result.stopped = str(exc)
    except OSError as exc:  # opening or closing the connection
        result.stopped = describe(exc)
    return result


def message_id(row: StepSend, profile) -> str:
    domain = profile.from_email.rpartition("@")[2] or "localhost"
    return f"<sequence-step-{row.step_id}.enrolment-{row.enrolment_id}@{domain}>"


def tracking_id(step_id: int, lead_id: int) -> str:
    """The tracking message id of a step's message to a lead (opens and clicks carry it back)."""
    return f"q{step_id}-{lead_id}"


def _send_row(row: StepSend, *, profile, connection) -> str:
    enrolment = row.enrolment
    sequence = enrolment.sequence
    envelope = rendering.Envelope(
        lead=enrolment.lead,
        message_id=message_id(row, profile),
        tracking=rendering.Tracking(
            lead_id=enrolment.lead_id,
            message_id=tracking_id(row.step_id, enrolment.lead_id),
            campaign_id=sequence.campaign_id,
        ),
    )
    try:
        message = rendering.build_message(
            row.step.template, language=sequence.language, profile=profile, envelope=envelope
        )
    except TemplateSyntaxError as exc:
        _mark(row, token=None, status=SendStatus.FAILED, error=describe(exc))
        return "failed"
    token = _claim(row)
    if token is None:
        return _why_not_claimed(row)
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001  (classified as the broadcasts classify it)
        return _after_error(row, token=token, exc=exc)
    if not accepted:
        _mark(row, token=token, status=SendStatus.FAILED, error="the mail backend accepted no recipient")
        return "failed"
    _mark(row, token=token, status=SendStatus.SENT)
    return "sent"


def _claimable() -> Q:
    return Q(
        status=SendStatus.PENDING,
        enrolment_id__in=Enrolment.objects.exclude(state=EnrolmentState.EXITED)
        .filter(sequence__status=SequenceStatus.ACTIVE, lead_id__in=eligible_leads().values("pk"))
        .values("pk"),
    )


def _claim(row: StepSend) -> str | None:
    token = uuid.uuid4().hex
    claimed = StepSend.objects.filter(_claimable(), pk=row.pk).update(
        status=SendStatus.SENDING, claim_token=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    return token if claimed else None


def _why_not_claimed(row: StepSend) -> str:
    """The enrolment ended (or its lead may no longer be emailed): the row is skipped. A paused sequence (or a row
    another worker took) leaves it as it is."""
    ended = Enrolment.objects.filter(pk=row.enrolment_id).filter(
        Q(state=EnrolmentState.EXITED) | ~Q(lead_id__in=eligible_leads().values("pk"))
    )
    if ended.exists():
        StepSend.objects.filter(pk=row.pk, status=SendStatus.PENDING).update(
            status=SendStatus.SKIPPED, error="the enrolment ended before this step"
        )
        return "skipped"
    return "not claimed"


def _mark(row: StepSend, **kwargs) -> None:
    ledger_mark(StepSend.objects.filter(pk=row.pk), from_status=SendStatus.PENDING, **kwargs)


def _after_error(row: StepSend, *, token: str, exc: Exception) -> str:
    if not ledger_after_error(
        StepSend.objects.filter(pk=row.pk), attempts=row.attempts + 1, token=token, exc=exc
    ):
        return "failed"
    raise TemporaryFailure(describe(exc)) from exc
