"""Sending a broadcast: freeze its recipients into the ledger, send each row exactly once, sweep up after crashes.

**Freeze** (`broadcast_start`): the broadcast moves scheduled → sending with a conditional UPDATE, and in the same
transaction one `INSERT … SELECT` copies the segment's leads into the ledger (`BroadcastSend`, unique per broadcast
and lead). Leads that may not be emailed are frozen as skipped with the reason (unsubscribed, no consent, an
invalid address). A worker that dies mid-freeze rolls the whole transaction back; the sweep starts it again.

**Batches and the throttle** (`broadcast_send_batch`): a batch sends at most `throttle_per_minute` rows and may start
only a minute after the previous one (claimed on `Broadcast.batch_started_at` with a conditional UPDATE, so two
batch tasks never run the same minute); the task schedules the next batch a minute after this one started.
(BROADCAST_BATCH_SECONDS shortens the minute for tests; a batch then carries that share of the throttle.)

**One row, exactly once**: render the message first, then claim the row with a conditional UPDATE
(pending → sending, with a claim token and time; the same statement checks the broadcast is still sending and the
lead still emailable, so a pause or an opt-out takes effect at the next message), hand it to the backend, mark it
sent (matching the claim token). Nothing but the backend call sits between the claim and the mark, so the window
in which a crash leaves a row ambiguous is one SMTP transaction.

**An ambiguous row** (claimed, never marked: the worker was SIGKILLed, or lost the database, between the claim and
the mark) may or may not have reached the SMTP server. We never send it again: the sweep moves a row claimed longer
than EMAIL_SEND_STALE_SECONDS ago (well beyond EMAIL_TIMEOUT and the task's time limit, so its worker is gone) to
`unknown`, shown on the broadcast's page. Its Message-ID (`<broadcast-B.lead-L@domain>`, one per ledger row) lets
an operator look it up in the mail server's log. A slow worker that marks it after all still wins (the mark
matches the claim token, not the status). Rows never claimed (pending) are simply sent by the next batch.

**Errors**: a 5xx answer (recipient refused, message rejected) marks the row failed with the reason; a 4xx answer
for one recipient puts the row back to pending with a backoff; a connection failure (server down, disconnected,
timeout, 4xx for the whole message) puts the row back and stops the batch, and the task retries with backoff.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import smtplib
import uuid
from dataclasses import dataclass, field

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, CharField, F, IntegerField, Q, QuerySet, Value, When
from django.template import TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead
from nurture.mail import rendering
from nurture.mail.selectors import sender_profile
from nurture.models import Broadcast, BroadcastSend, BroadcastStatus, SendStatus, SkipReason
from nurture.segments.selectors import segment_leads

MAX_ATTEMPTS = 5
VALID_ADDRESS = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_ADDRESS = re.compile(r"\S+@\S+")


class TemporaryFailure(Exception):
    """The mail server could not take messages now (down, disconnected, busy): retry the batch later."""


# --- Freeze ----------------------------------------------------------------------------------------------------


def broadcast_start(*, broadcast_id: int, now: dt.datetime | None = None) -> bool:
    """scheduled → sending and the ledger frozen, once; False when it is not (yet, or any more) to start."""
    now = now or timezone.now()
    with transaction.atomic():
        started = Broadcast.objects.filter(
            pk=broadcast_id, status=BroadcastStatus.SCHEDULED, scheduled_at__lte=now, frozen_at__isnull=True
        ).update(status=BroadcastStatus.SENDING, frozen_at=now, batch_started_at=None)
        if not started:
            return False
        ledger_freeze(broadcast=Broadcast.objects.select_related("segment").get(pk=broadcast_id))
    return True


def _skip_reason() -> Case:
    return Case(
        When(unsubscribed_at__isnull=False, then=Value(SkipReason.UNSUBSCRIBED.value)),
        When(email_undeliverable_at__isnull=False, then=Value(SkipReason.BOUNCED.value)),
        When(consent_email=False, then=Value(SkipReason.NO_CONSENT.value)),
        When(~Q(email__regex=VALID_ADDRESS), then=Value(SkipReason.INVALID_ADDRESS.value)),
        default=Value(""),
        output_field=CharField(),
    )


def ledger_freeze(*, broadcast: Broadcast) -> int:
    """One INSERT … SELECT of the segment's leads into the ledger; rows already there stay as they are.
    The skip conditions are `Lead.objects.emailable()`'s (consent, not unsubscribed) and a plausible address."""
    may_not = (
        Q(unsubscribed_at__isnull=False)
        | Q(email_undeliverable_at__isnull=False)
        | Q(consent_email=False)
        | ~Q(email__regex=VALID_ADDRESS)
    )
    rows = (
        segment_leads(broadcast.segment)
        .order_by()
        .annotate(
            f_broadcast=Value(broadcast.pk, output_field=IntegerField()),
            f_lead=F("pk"),
            f_status=Case(
                When(may_not, then=Value(SendStatus.SKIPPED.value)),
                default=Value(SendStatus.PENDING.value),
                output_field=CharField(),
            ),
            f_reason=_skip_reason(),
            f_attempts=Value(0, output_field=IntegerField()),
            f_token=Value("", output_field=CharField()),
            f_error=Value("", output_field=CharField()),
        )
        .values_list("f_broadcast", "f_lead", "f_status", "f_reason", "f_attempts", "f_token", "f_error")
    )
    select_sql, params = rows.query.sql_with_params()
    table = BroadcastSend._meta.db_table
    columns = "broadcast_id, lead_id, status, skip_reason, attempts, claim_token, error"
    # The outer `WHERE 1 = 1` keeps SQLite from reading ON CONFLICT as part of the SELECT (its documented caveat).
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT * FROM ({select_sql}) frozen WHERE 1 = 1 "
        "ON CONFLICT (broadcast_id, lead_id) DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- Batches ---------------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    stopped: str = ""  # why the batch sent nothing or stopped early ("throttled", "not sending", …)
    more: bool = False  # rows are left to send
    outcomes: list[str] = field(default_factory=list)


def batch_seconds() -> int:
    """How often a broadcast's batch starts (a minute; tests shorten it with BROADCAST_BATCH_SECONDS)."""
    return settings.BROADCAST_BATCH_SECONDS


def batch_size(broadcast: Broadcast) -> int:
    """The throttle's share of one batch: messages per minute × the batch's length."""
    return max(1, math.ceil(broadcast.throttle_per_minute * batch_seconds() / 60))


def _claim_batch_slot(broadcast_id: int, now: dt.datetime) -> bool:
    previous_slot = now - dt.timedelta(seconds=batch_seconds())
    return bool(
        Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SENDING)
        .filter(Q(batch_started_at__isnull=True) | Q(batch_started_at__lte=previous_slot))
        .update(batch_started_at=now)
    )


def batch_slot_release(*, broadcast_id: int) -> None:
    """After a temporary failure: the retry may start a batch before the minute is over (nothing was sent)."""
    Broadcast.objects.filter(pk=broadcast_id).update(batch_started_at=None)


def _skip_opted_out(broadcast_id: int) -> int:
    """Pending rows whose lead opted out (or lost consent) since the freeze: skipped, in one UPDATE per reason."""
    pending = BroadcastSend.objects.filter(broadcast_id=broadcast_id, status=SendStatus.PENDING)
    skipped = pending.filter(lead__in=Lead.objects.filter(unsubscribed_at__isnull=False)).update(
        status=SendStatus.SKIPPED, skip_reason=SkipReason.UNSUBSCRIBED
    )
    skipped += pending.filter(lead__in=Lead.objects.filter(email_undeliverable_at__isnull=False)).update(
        status=SendStatus.SKIPPED, skip_reason=SkipReason.BOUNCED
    )
    return skipped + pending.filter(lead__in=Lead.objects.filter(consent_email=False)).update(
        status=SendStatus.SKIPPED, skip_reason=SkipReason.NO_CONSENT
    )


def broadcast_send_batch(*, broadcast_id: int, now: dt.datetime | None = None) -> BatchResult:
    """Send up to one minute's worth of the broadcast's pending rows (see the module's docstring)."""
    now = now or timezone.now()
    if not _claim_batch_slot(broadcast_id, now):
        return BatchResult(stopped="throttled or not sending")
    broadcast = Broadcast.objects.select_related("template").get(pk=broadcast_id)
    profile = sender_profile()
    missing = profile.missing_fields()
    if missing:
        Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SENDING).update(
            status=BroadcastStatus.PAUSED,
            status_note=_("Paused: the sender profile lacks %(fields)s.") % {"fields": ", ".join(missing)},
        )
        return BatchResult(stopped="sender profile incomplete")
    result = BatchResult(skipped=_skip_opted_out(broadcast_id))
    rows = list(
        BroadcastSend.objects.filter(broadcast_id=broadcast_id, status=SendStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("lead__company", "lead__owner")
        .order_by("id")[: batch_size(broadcast)]
    )
    if rows:
        _send_rows(broadcast, rows, profile=profile, result=result)
    result.more = _finish_if_done(broadcast_id)
    return result


def _send_rows(broadcast: Broadcast, rows: list[BroadcastSend], *, profile, result: BatchResult) -> None:
    try:
        with get_connection(fail_silently=False) as connection:
            for row in rows:
                outcome = _send_row(broadcast, row, profile=profile, connection=connection)
                result.outcomes.append(outcome)
                if outcome == "sent":
                    result.sent += 1
                elif outcome == "failed":
                    result.failed += 1
                elif outcome == "stop":
                    result.stopped = "not sending"
                    return
    except (OSError, smtplib.SMTPException) as exc:  # opening or closing the connection
        raise TemporaryFailure(describe(exc)) from exc


def message_id(broadcast: Broadcast, lead_id: int, profile) -> str:
    domain = profile.from_email.rpartition("@")[2] or "localhost"
    return f"<broadcast-{broadcast.pk}.lead-{lead_id}@{domain}>"


def _send_row(broadcast: Broadcast, row: BroadcastSend, *, profile, connection) -> str:
    """One ledger row: render, claim, send, mark. Returns sent / failed / skipped / stop."""
    envelope = rendering.Envelope(
        lead=row.lead,
        message_id=message_id(broadcast, row.lead_id, profile),
        tracking=rendering.Tracking(
            lead_id=row.lead_id,
            message_id=f"b{broadcast.pk}-{row.lead_id}",
            campaign_id=broadcast.campaign_id,
        ),
    )
    try:
        message = rendering.build_message(
            broadcast.template, language=broadcast.language, profile=profile, envelope=envelope
        )
    except TemplateSyntaxError as exc:
        _mark(row, token=None, status=SendStatus.FAILED, error=describe(exc), from_status=SendStatus.PENDING)
        return "failed"
    token = _claim(row)
    if token is None:
        return _why_not_claimed(row)
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001  (classified below; anything unknown is treated as temporary)
        return _after_error(row, token=token, exc=exc)
    if not accepted:  # a backend that declined without raising (no valid recipient)
        _mark(row, token=token, status=SendStatus.FAILED, error="the mail backend accepted no recipient")
        return "failed"
    _mark(row, token=token, status=SendStatus.SENT)
    return "sent"


def _claim(row: BroadcastSend) -> str | None:
    """pending → sending in one UPDATE whose WHERE names only this table's columns (so PostgreSQL re-checks the
    status on the row it locks: two workers can never both claim it) plus sub-selects for the broadcast's status
    and the lead's consent."""
    token = uuid.uuid4().hex
    claimed = BroadcastSend.objects.filter(
        pk=row.pk,
        status=SendStatus.PENDING,
        broadcast_id__in=Broadcast.objects.filter(status=BroadcastStatus.SENDING).values("pk"),
        lead_id__in=Lead.objects.emailable().values("pk"),
    ).update(
        status=SendStatus.SENDING, claim_token=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    return token if claimed else None


def _why_not_claimed(row: BroadcastSend) -> str:
    if not Broadcast.objects.filter(pk=row.broadcast_id, status=BroadcastStatus.SENDING).exists():
        return "stop"  # paused or cancelled meanwhile
    _skip_opted_out(row.broadcast_id)  # the lead opted out a moment ago (or another worker took the row)
    return "skipped"


def _mark(row: BroadcastSend, **kwargs) -> None:
    ledger_mark(BroadcastSend.objects.filter(pk=row.pk), **kwargs)


def ledger_mark(
    rows: QuerySet,
    *,
    token: str | None,
    status: str,
    error: str = "",
    from_status: str = SendStatus.SENDING,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    """Record a send ledger row's outcome (a broadcast's or a sequence step's): `rows` is the row, by pk."""
    if token is not None:
        # The claim token, not the status: a slow worker whose row the sweep gave up as unknown still records it.
        rows = rows.filter(claim_token=token, status__in=(SendStatus.SENDING, SendStatus.UNKNOWN))
    else:
        rows = rows.filter(status=from_status)
    fields: dict = {"status": status, "error": error[:300], "next_attempt_at": next_attempt_at}
    if status == SendStatus.SENT:
        fields["sent_at"] = timezone.now()
    rows.update(**fields)


def describe(exc: BaseException) -> str:
    """The error for the ledger, without addresses (personal data stays out of error texts)."""
    return _ADDRESS.sub("<address>", f"{type(exc).__name__}: {exc}")[:300]


def _smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return max(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, AnymailRecipientsRefused):
        return True
    if isinstance(exc, AnymailError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status is not None and 400 <= status < 500 and status != 429
    code = _smtp_code(exc)
    return code is not None and 500 <= code < 600


def ledger_after_error(rows: QuerySet, *, attempts: int, token: str, exc: Exception) -> bool:
    """After the backend raised on a claimed ledger row (`rows`, by pk; `attempts` counting this one): a permanent
    refusal, or the last attempt, marks it failed (False); anything else puts it back to pending with a backoff
    (True: the caller retries)."""
    error = describe(exc)
    if is_permanent(exc) or attempts >= MAX_ATTEMPTS:
        ledger_mark(rows, token=token, status=SendStatus.FAILED, error=error)
        return False
    backoff = dt.timedelta(seconds=60 * 2 ** (attempts - 1))
    ledger_mark(
        rows, token=token, status=SendStatus.PENDING, error=error, next_attempt_at=timezone.now() + backoff
    )
    return True


def _after_error(row: BroadcastSend, *, token: str, exc: Exception) -> str:
    rows = BroadcastSend.objects.filter(pk=row.pk)
    if not ledger_after_error(rows, attempts=row.attempts + 1, token=token, exc=exc):
        return "failed"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "deferred"  # this recipient's server is busy; the connection is fine
    raise TemporaryFailure(describe(exc)) from exc


def _finish_if_done(broadcast_id: int) -> bool:
    """done once no row is pending or in flight; True while rows are left."""
    left = BroadcastSend.objects.filter(
        broadcast_id=broadcast_id, status__in=(SendStatus.PENDING, SendStatus.SENDING)
    ).exists()
    if not left:
        Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SENDING).update(
            status=BroadcastStatus.DONE, finished_at=timezone.now()
        )
    return left


# --- Sweep -----------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    due: list[int] = field(default_factory=list)  # scheduled broadcasts whose time has come
    stalled: list[int] = field(default_factory=list)  # sending broadcasts whose batches stopped
    unknown: int = 0  # rows given up as ambiguous


def mail_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """What the beat finds every minute: due broadcasts to start, stalled ones to resume, dead claims."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.EMAIL_SEND_STALE_SECONDS)
    unknown = BroadcastSend.objects.filter(status=SendStatus.SENDING, claimed_at__lt=stale).update(
        status=SendStatus.UNKNOWN, error="worker stopped between the claim and the mark; not sent again"
    )
    due = list(
        Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, scheduled_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    # A batch still running is never "stalled": BROADCAST_STALL_SECONDS is beyond a batch task's time limit.
    quiet = now - dt.timedelta(seconds=settings.BROADCAST_STALL_SECONDS)
    stalled = list(
        Broadcast.objects.filter(status=BroadcastStatus.SENDING)
        .filter(Q(batch_started_at__isnull=True) | Q(batch_started_at__lt=quiet))
        .values_list("pk", flat=True)
    )
    return SweepResult(due=due, stalled=stalled, unknown=unknown)
