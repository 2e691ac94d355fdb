"""Sending a broadcast: freeze its recipients into the ledger, send each row exactly once, sweep up after crashes.

**Freeze** (`broadcast_start`): the broadcast moves scheduled → sending with a conditional UPDATE, and in the same
transaction one `INSERT … SELECT` copies the segment's leads into the ledger (`BroadcastSend`, unique per broadcast
and lead). Leads that may not be emailed are frozen as skipped with the reason (unsubscribed, no consent, an
invalid address). A worker that dies mid-freeze rolls the whole transaction back; the sweep starts it again.

**Batches and the throttle** (`batch_open`, `broadcast_send_part`): a batch sends at most `throttle_per_minute`
rows and may start only a minute after the previous one (claimed on `Broadcast.batch_started_at` with a conditional
UPDATE, so two batch tasks never open the same minute); the task schedules the next batch a minute after this one
started. A batch is sent by up to BROADCAST_BATCH_PARTS parts at once (the batch task queues the others, one per
`email` worker process), each claiming chunks of its own; the throttle holds across them because every chunk claim
counts its rows on the broadcast (`Broadcast.batch_claimed`, under the broadcast row's lock) and takes no more
than the batch has left. (BROADCAST_BATCH_SECONDS shortens the minute for tests; a batch then carries that share
of the throttle.)

**Chunks, each row exactly once** (`chunk_claim`, `chunk_send`): a batch works through its rows in chunks of
CHUNK_SIZE over one SMTP connection. A chunk is claimed in one UPDATE (pending → sending under a new claim token;
on PostgreSQL `FOR UPDATE SKIP LOCKED`, so concurrent batches take different rows), its leads are read in one query
and the template is compiled once. Each message is rendered, then **handed over**: one conditional UPDATE sets the
row's `sent_at` only if the row is still this claim's and not handed over yet, the broadcast still sending and the
lead still emailable (so a pause, a cancel or an opt-out takes effect at the next message), and only then is the
message given to the connection. A refusal is recorded on its row at once; the rows the server accepted are marked
sent together at the end of the chunk, and rows not handed over (the batch stopped: a pause, a temporary failure,
the time limit) go back to pending.

**A dead worker's chunk** (SIGKILLed, or cut off from the database, mid-chunk): the worker handed its rows over in
id order, one at a time, and never hands one over before the server answered for the previous one. So of the
chunk's rows handed over and not marked, all but the last were accepted (marked sent), the last may or may not
have reached the server, and the rest were never handed over. The sweep finds claims with no hand-over for
EMAIL_SEND_STALE_SECONDS (well beyond EMAIL_TIMEOUT, so its worker is gone; `dead_claims`) and resumes them
(`claim_resume`): the accepted rows sent, the one ambiguous row `unknown` — never sent again, shown on the
broadcast's page; its Message-ID (`<broadcast-B.lead-L@domain>`, one per ledger row) lets an operator look it up in
the mail server's log —, the others pending again for the next batch. A slow worker that marks its rows after all
still wins (the mark matches the claim token, not the status), and can hand over no row the sweep gave back (the
hand-over matches the claim token).

**Errors**: a 5xx answer (recipient refused, message rejected) marks the row failed with the reason; a 4xx answer
for one recipient puts the row back to pending with a backoff; a connection failure (server down, disconnected,
timeout, 4xx for the whole message) puts the row back and stops the batch, and the task retries with backoff.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import smtplib
import uuid
import weakref
from dataclasses import dataclass, field

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, CharField, F, IntegerField, Max, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.template import TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead
from nurture.mail import rendering
from nurture.mail.selectors import sender_profile
from nurture.models import Broadcast, BroadcastSend, BroadcastStatus, SendStatus, SkipReason
from nurture.segments.selectors import segment_leads

MAX_ATTEMPTS = 5
CHUNK_SIZE = 200  # rows claimed in one UPDATE, rendered with one compiled template, marked sent in one UPDATE
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
        .update(batch_started_at=now, batch_claimed=0)
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


def _due(broadcast_id: int, now: dt.datetime) -> QuerySet:
    return BroadcastSend.objects.filter(broadcast_id=broadcast_id, status=SendStatus.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def batch_open(*, broadcast_id: int, now: dt.datetime | None = None) -> tuple[BatchResult, int]:
    """Open the broadcast's next batch: its minute's slot claimed, the leads who opted out since skipped. Returns
    the result so far (`stopped` says why no batch opened) and how many parts should send it at once."""
    now = now or timezone.now()
    if not _claim_batch_slot(broadcast_id, now):
        return BatchResult(stopped="throttled or not sending"), 0
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    missing = sender_profile().missing_fields()
    if missing:
        Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SENDING).update(
            status=BroadcastStatus.PAUSED,
            status_note=_("Paused: the sender profile lacks %(fields)s.") % {"fields": ", ".join(missing)},
        )
        return BatchResult(stopped="sender profile incomplete"), 0
    result = BatchResult(skipped=_skip_opted_out(broadcast_id))
    parts = min(settings.BROADCAST_BATCH_PARTS, math.ceil(batch_size(broadcast) / CHUNK_SIZE))
    return result, max(1, parts)


def broadcast_send_part(
    *, broadcast_id: int, now: dt.datetime | None = None, result: BatchResult | None = None
) -> BatchResult:
    """One part of the open batch: chunk after chunk over one SMTP connection while the batch has rows left to
    claim (shared with the batch's other parts, see `chunk_claim`)."""
    now = now or timezone.now()
    result = result or BatchResult()
    broadcast = Broadcast.objects.select_related("template").get(pk=broadcast_id)
    if broadcast.status == BroadcastStatus.SENDING and _due(broadcast_id, now).exists():
        _send_chunks(
            broadcast, budget=batch_size(broadcast), profile=sender_profile(), result=result, now=now
        )
    result.more = _finish_if_done(broadcast_id)
    return result


def broadcast_send_batch(*, broadcast_id: int, now: dt.datetime | None = None) -> BatchResult:
    """Send up to one minute's worth of the broadcast's pending rows in this process (one part; see the module's
    docstring)."""
    result, parts = batch_open(broadcast_id=broadcast_id, now=now)
    if not parts:
        return result
    return broadcast_send_part(broadcast_id=broadcast_id, now=now, result=result)


def _send_chunks(
    broadcast: Broadcast, *, budget: int, profile, result: BatchResult, now: dt.datetime
) -> None:
    """Claim, render and send chunk after chunk over one SMTP connection until the batch's budget is spent."""
    try:
        with get_connection(fail_silently=False) as connection:
            while not result.stopped:
                chunk = chunk_claim(broadcast_id=broadcast.pk, size=CHUNK_SIZE, now=now, budget=budget)
                if chunk is None:
                    return
                chunk_send(broadcast, chunk, profile=profile, connection=connection, result=result)
    except (OSError, smtplib.SMTPException) as exc:  # opening or closing the connection
        raise TemporaryFailure(describe(exc)) from exc


def message_id(broadcast: Broadcast, lead_id: int, profile) -> str:
    domain = profile.from_email.rpartition("@")[2] or "localhost"
    return f"<broadcast-{broadcast.pk}.lead-{lead_id}@{domain}>"


# --- Chunks: claimed together, handed over one by one, marked together ---------------------------------------


@dataclass
class Chunk:
    token: str
    rows: list[BroadcastSend]  # in id order, the order they are handed over in (the sweep relies on it)


def chunk_claim(
    *, broadcast_id: int, size: int, now: dt.datetime | None = None, budget: int | None = None
) -> Chunk | None:
    """Up to `size` due rows pending → sending under one new claim token: the broadcast row locked (a sending
    broadcast only; parts of one batch claim one after another), the rows' ids locked (PostgreSQL skips rows
    another worker is claiming), one UPDATE that re-checks `pending`, so no row is in two chunks, then the chunk's
    rows with their leads in one query. With a `budget` (the batch's size), no more rows than the batch has left
    (`Broadcast.batch_claimed`, counted here). None when nothing is due or left, or the broadcast is not sending."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        taken = (
            Broadcast.objects.select_for_update()
            .filter(pk=broadcast_id, status=BroadcastStatus.SENDING)
            .values_list("batch_claimed", flat=True)
            .first()
        )
        if taken is None:
            return None
        if budget is not None:
            size = min(size, budget - taken)
            if size <= 0:
                return None
        due = _due(broadcast_id, now).order_by("id").values_list("pk", flat=True)[:size]
        # The ids first: as a sub-select of the UPDATE, PostgreSQL may run a LIMIT … SKIP LOCKED more than once.
        ids = list(due.select_for_update(skip_locked=True))
        claimed = BroadcastSend.objects.filter(pk__in=ids, status=SendStatus.PENDING).update(
            status=SendStatus.SENDING, claim_token=token, claimed_at=timezone.now(), sent_at=None
        )
        if claimed:
            Broadcast.objects.filter(pk=broadcast_id).update(batch_claimed=F("batch_claimed") + claimed)
    if not claimed:
        return None
    rows = list(
        BroadcastSend.objects.filter(broadcast_id=broadcast_id, status=SendStatus.SENDING, claim_token=token)
        .select_related("lead__company", "lead__owner")
        .only(*CHUNK_FIELDS)
        .order_by("id")
    )
    return Chunk(token=token, rows=rows)


CHUNK_FIELDS = (
    "id",
    "broadcast_id",
    "lead_id",
    "attempts",
    "claim_token",
    "lead__id",
    "lead__email",
    "lead__name",
    "lead__company__id",
    "lead__company__name",
    "lead__owner__id",
    "lead__owner__username",
    "lead__owner__first_name",
    "lead__owner__last_name",
    "lead__owner__email",
)


def chunk_send(broadcast: Broadcast, chunk: Chunk, *, profile, connection, result: BatchResult) -> None:
    """Each row: render (the template compiled once), hand over (a conditional UPDATE that checks the claim, the
    broadcast and the lead's consent at that moment), send over the open connection. The rows the server
    accepted are marked sent together at the end; rows not handed over go back to pending (`finally`: also
    after a temporary failure or the task's time limit)."""
    accepted: list[int] = []
    renderer = rendering.Renderer(broadcast.template, language=broadcast.language, profile=profile)
    try:
        _hand_overs_without_flush(True)
        for row in chunk.rows:
            outcome = _send_row(broadcast, row, token=chunk.token, renderer=renderer, connection=connection)
            result.outcomes.append(outcome)
            if outcome == "sent":
                accepted.append(row.pk)
                result.sent += 1
            elif outcome == "failed":
                result.failed += 1
            elif outcome == "stop":
                result.stopped = "not sending"
                return
    finally:
        _hand_overs_without_flush(False)
        _mark_sent(
            chunk.token, accepted
        )  # a commit that waits for the disk: the hand-overs before it are on disk
        _release(broadcast.pk, claim_token=chunk.token)


def _hand_overs_without_flush(on: bool) -> None:
    """A hand-over's commit need not wait for PostgreSQL to write it to disk: a worker killed after it cannot
    undo it (the server has it), only a crash of the database server itself could lose the last fraction of a
    second of them, and the chunk's mark (a normal commit) writes all of them to disk. Without this every message
    waited for a disk flush."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO %s" % ("off" if on else "DEFAULT"))


def _send_row(broadcast: Broadcast, row: BroadcastSend, *, token: str, renderer, connection) -> str:
    """One row of a claimed chunk: render, hand over, send. Returns sent / failed / skipped / stop / deferred."""
    envelope = rendering.Envelope(
        lead=row.lead,
        message_id=message_id(broadcast, row.lead_id, renderer.profile),
        tracking=rendering.Tracking(
            lead_id=row.lead_id,
            message_id=f"b{broadcast.pk}-{row.lead_id}",
            campaign_id=broadcast.campaign_id,
        ),
    )
    try:
        message = renderer.build(envelope)
    except TemplateSyntaxError as exc:
        _mark(row, token=token, status=SendStatus.FAILED, error=describe(exc))
        return "failed"
    if not _hand_over(row, token):
        return _why_not_handed(row, token)
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001  (classified below; anything unknown is treated as temporary)
        return _after_error(row, token=token, exc=exc)
    if not accepted:  # a backend that declined without raising (no valid recipient)
        _mark(row, token=token, status=SendStatus.FAILED, error="the mail backend accepted no recipient")
        return "failed"
    return "sent"


def _hand_over(row: BroadcastSend, token: str) -> bool:
    """The last check before the message goes to the server, and the record that it went: `sent_at` set on a row
    of our claim, in one UPDATE whose WHERE names only this table's columns (PostgreSQL re-checks them on the row
    it locks) plus sub-selects for the broadcast's status and the lead's consent, so a pause or an opt-out takes
    effect at the next message. The statement is compiled once (`_hand_over_sql`): built by the ORM for every
    message, it cost about as much as the message's SMTP transaction. On PostgreSQL it is also planned once per
    connection (a prepared statement): planning it (the leads table's many indexes) took ten times as long as
    running it."""
    now = db_connection.ops.adapt_datetimefield_value(timezone.now())
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "postgresql":
            _prepare_hand_over(cursor)
            cursor.execute(f"EXECUTE {HAND_OVER_STATEMENT} (%s, %s, %s)", [now, row.pk, token])
        else:
            sql, params = _hand_over_sql(db_connection.vendor)
            cursor.execute(sql, [now, row.pk, token, *params])
        handed = cursor.rowcount
    if handed:
        row.attempts += 1
    return bool(handed)


HAND_OVER_STATEMENT = "nurture_hand_over"
_prepared_on: weakref.WeakSet = weakref.WeakSet()  # the database connections that have it


def _prepare_hand_over(cursor) -> None:
    """PREPARE the hand-over on this database connection, once: its three per-message parameters become $1–$3,
    the constant ones are written in."""
    raw = db_connection.connection
    if raw in _prepared_on:
        return
    sql, params = _hand_over_sql(db_connection.vendor)
    for number in (1, 2, 3):
        sql = sql.replace("%s", f"${number}", 1)
    cursor.execute(f"PREPARE {HAND_OVER_STATEMENT} AS {sql}", params)
    _prepared_on.add(raw)


@functools.lru_cache(maxsize=4)
def _hand_over_sql(vendor: str) -> tuple[str, tuple]:
    """The hand-over's UPDATE (parameters: sent_at, the row's pk, the claim token, then the returned ones); the
    sub-selects are the ORM's own (`Lead.objects.emailable()`, a sending broadcast)."""
    sending_sql, sending_params = (
        Broadcast.objects.filter(status=BroadcastStatus.SENDING)
        .order_by()
        .values("pk")
        .query.sql_with_params()
    )
    emailable_sql, emailable_params = Lead.objects.emailable().order_by().values("pk").query.sql_with_params()
    meta, quote = BroadcastSend._meta, db_connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column('sent_at')} = %s, {column('attempts')} = {column('attempts')} + 1 "
        f"WHERE {column('id')} = %s AND {column('claim_token')} = %s AND {column('status')} = %s "
        f"AND {column('sent_at')} IS NULL AND {column('broadcast')} IN ({sending_sql}) "
        f"AND {column('lead')} IN ({emailable_sql})"
    )
    return sql, (SendStatus.SENDING.value, *sending_params, *emailable_params)


def _why_not_handed(row: BroadcastSend, token: str) -> str:
    if not Broadcast.objects.filter(pk=row.broadcast_id, status=BroadcastStatus.SENDING).exists():
        return "stop"  # paused or cancelled meanwhile: the rest of the chunk goes back (chunk_send's finally)
    # The lead opted out a moment ago (or the sweep gave our claim up): back to pending if still ours, skipped.
    _release(row.broadcast_id, pk=row.pk, claim_token=token)
    _skip_opted_out(row.broadcast_id)
    return "skipped"


def _mark(row: BroadcastSend, **kwargs) -> None:
    ledger_mark(BroadcastSend.objects.filter(pk=row.pk), **kwargs)


def _mark_sent(token: str, ids: list[int]) -> None:
    """The rows the server accepted, in one UPDATE (their `sent_at` is when they were handed over)."""
    if ids:
        BroadcastSend.objects.filter(
            pk__in=ids, claim_token=token, status__in=(SendStatus.SENDING, SendStatus.UNKNOWN)
        ).update(status=SendStatus.SENT, error="")


def _release(broadcast_id: int, **claim) -> int:
    """Rows of a claim (`claim`: its token, or a row's pk and token) never handed over → pending again; a
    cancelled broadcast's → skipped as cancelled, as its other pending rows were."""
    released = (
        BroadcastSend.objects.filter(
            broadcast_id=broadcast_id, status=SendStatus.SENDING, sent_at__isnull=True
        )
        .filter(**claim)
        .update(status=SendStatus.PENDING, claim_token="", claimed_at=None)
    )
    if released:
        BroadcastSend.objects.filter(
            broadcast_id=broadcast_id, broadcast__status=BroadcastStatus.CANCELLED, status=SendStatus.PENDING
        ).update(status=SendStatus.SKIPPED, skip_reason=SkipReason.CANCELLED)
    return released


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
    # A row not sent has no sent_at: for a broadcast's ledger, sent_at also says "handed to the server".
    fields["sent_at"] = timezone.now() if status == SendStatus.SENT else None
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
    if not ledger_after_error(rows, attempts=row.attempts, token=token, exc=exc):
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


def dead_claims(*, now: dt.datetime) -> list[tuple[int, str]]:
    """(broadcast, claim token) of the chunks whose worker has not handed a message over (nor claimed) for
    EMAIL_SEND_STALE_SECONDS: well beyond one SMTP transaction (EMAIL_TIMEOUT), so that worker is gone.
    Only broadcasts that may hold claims are looked at (one that is done has none)."""
    stale = now - dt.timedelta(seconds=settings.EMAIL_SEND_STALE_SECONDS)
    live = (BroadcastStatus.SENDING, BroadcastStatus.PAUSED, BroadcastStatus.CANCELLED)
    return list(
        BroadcastSend.objects.filter(broadcast__status__in=live, status=SendStatus.SENDING)
        .values("broadcast_id", "claim_token")
        .annotate(last=Max(Coalesce("sent_at", "claimed_at")))
        .filter(last__lt=stale)
        .order_by()
        .values_list("broadcast_id", "claim_token")
    )


def claim_resume(*, broadcast_id: int, token: str) -> int:
    """Finish a dead worker's chunk; returns the rows given up as unknown (0 or 1). The worker handed its rows
    over in id order, one at a time, and marked a refused one at once: of the rows it handed over and did not
    mark, all but the last were accepted by the server (sent); the last may or may not have been (unknown,
    never sent again); the rows it never handed over are pending again, for the next batch."""
    claim = BroadcastSend.objects.filter(
        broadcast_id=broadcast_id, claim_token=token, status=SendStatus.SENDING
    )
    handed = claim.filter(sent_at__isnull=False)
    last = handed.order_by("-id").values_list("pk", flat=True).first()
    unknown = 0
    if last is not None:
        unknown = handed.filter(pk=last).update(
            status=SendStatus.UNKNOWN,
            error="worker stopped between the hand-over and the mark; not sent again",
        )
        handed.update(status=SendStatus.SENT, error="")
    _release(broadcast_id, claim_token=token)
    return unknown


def mail_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """What the beat finds every minute: due broadcasts to start, stalled ones to resume, dead claims."""
    now = now or timezone.now()
    unknown = sum(claim_resume(broadcast_id=b, token=t) for b, t in dead_claims(now=now))
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
