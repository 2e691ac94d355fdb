"""Nurture at volume: a broadcast to N recipients handed to a local SMTP sink, and N leads enrolled in a sequence.

    uv run python bench/mail.py [--recipients 100000] [--database-url postgres://…]

Its own database (sm_bench_mail by default, made afresh each run): N leads with e-mail consent in one static
segment, the sender profile, one template (Japanese, the open pixel and one tracked link, a merge field).

- **Broadcast**: the production path. `broadcast_start` freezes the N recipients into the ledger (one
  INSERT … SELECT, timed on its own), then each batch (the throttle's share of a minute; the throttle is set high
  enough not to wait) is opened (`batch_open`) and sent by `--parts` processes at once (`broadcast_send_part`, as
  the batch task and the other `email` workers do; default 2, compose's two email workers), each claiming chunks,
  rendering, sending and marking over its own SMTP connection. The figure is messages per second from the first
  batch to the last message marked sent.
  **Floor**: the same sink receiving the same number of copies of one such message, rendered and serialised
  once, over as many connections from as many processes (what sending costs with no rendering, no MIME encoding
  and no ledger). Target: ≥ 1,000 messages/s for 100,000 recipients on 2 cores.
- **Enrolment**: the segment's N members enrolled in a sequence (`enrol_leads`, one INSERT … SELECT). Target
  < 10 s for 100,000. Floor: the bare INSERT … SELECT of the same rows.

The sink (`--sink`) is Postfix's `smtp-sink` when it is installed (Debian: `apt-get install postfix`, which ships
it; the default then): the SMTP server of a production MTA, in C, offering PIPELINING as relay hosts and providers'
SMTP endpoints do, so on these 2 cores it takes a small share of the CPU that the sender is measured on. The other
is aiosmtpd's Sink handler (`--sink aiosmtpd`), a Python server that takes about as much CPU per message as the
sender and does not offer PIPELINING. Either runs in its own process (one for all connections, as a relay host).
Results: bench/results/mail-<N>.json (smtp-sink), mail-<N>-aiosmtpd.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import ensure_database, setup_django  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATE = 1000  # messages per second
TARGET_ENROL_S = 10
FULL = 100_000  # the targets' size
CHUNK = 5000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SMTP_SINK = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin")
DEFAULT_SINK = "smtp-sink" if SMTP_SINK else "aiosmtpd"


def start_sink(kind: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    if kind == "smtp-sink":
        # -u: it must drop root's privileges when started as root; 1024: its listen backlog.
        command = [SMTP_SINK, *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{port}", "1024"]
    else:
        command = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    sink = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink, port
        except OSError:
            time.sleep(0.1)
    sink.kill()
    raise SystemExit("the SMTP sink did not start")


def in_parallel(processes: int, work) -> None:
    """`work()` in this process and in processes-1 forked ones at once, each on its own database connection."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    others = [context.Process(target=work) for _i in range(processes - 1)]
    for other in others:
        other.start()
    work()
    for other in others:
        other.join()
        if other.exitcode:
            raise SystemExit(f"a sending process failed (exit code {other.exitcode})")


def populate(n: int, log=print):
    """N consenting leads in one static segment; the sender profile, a campaign, a template. Returns the segment,
    the template and the campaign."""
    from django.utils import timezone

    from leads.models import Campaign, Lead
    from nurture.models import EmailTemplate, Segment, SegmentKind, SegmentMember, SenderProfile

    started = time.perf_counter()
    now = timezone.now()
    for first in range(0, n, CHUNK):
        Lead.objects.bulk_create(
            Lead(
                email=f"reader{i}@bench.example.jp",
                name=f"読者 {i}",
                source="import",
                consent_email=True,
                consent_method="import",
                consent_at=now,
            )
            for i in range(first, min(n, first + CHUNK))
        )
    segment = Segment.objects.create(name="bench: 購読者", kind=SegmentKind.STATIC)
    lead_ids = Lead.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=CHUNK)
    batch = []
    for lead_id in lead_ids:
        batch.append(SegmentMember(segment=segment, lead_id=lead_id))
        if len(batch) == CHUNK:
            SegmentMember.objects.bulk_create(batch)
            batch = []
    SegmentMember.objects.bulk_create(batch)
    SenderProfile.objects.update_or_create(
        pk=1,
        defaults={
            "sender_name": "ベンチ株式会社",
            "from_email": "news@bench.example.jp",
            "postal_address": "東京都千代田区丸の内1-1-1",
            "complaints_contact": "support@bench.example.jp",
        },
    )
    template = EmailTemplate.objects.create(
        name="bench: 月刊ニュースレター",
        subject_ja="{{ lead.name }}様 今月のお知らせ",
        html_ja='<p>{{ lead.name }}様</p><p>今月のセミナーのご案内です。</p><p><a href="https://example.jp/seminar">お申し込み</a></p>',
        text_ja="{{ lead.name }}様\n今月のセミナーのご案内です。\nhttps://example.jp/seminar",
    )
    campaign = Campaign.objects.create(name="bench: ニュースレター", channel="email")
    log(f"  {n:,} leads in a static segment in {time.perf_counter() - started:.1f} s")
    return segment, template, campaign


def broadcast_figure(n: int, segment, template, campaign, parts: int, log=print) -> dict:
    from django.conf import settings
    from django.core.mail import get_connection
    from django.utils import timezone

    from nurture.mail import rendering, sending, services
    from nurture.mail.selectors import sender_profile
    from nurture.models import Broadcast, BroadcastSend, BroadcastStatus, SendStatus
    from salesmarketing.models import User
    from salesmarketing.smtp import sendmail_pipelined

    by = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench", password=None
    )
    broadcast = services.broadcast_create(
        by=by,
        name="bench: 今月号",
        template=template,
        segment=segment,
        campaign=campaign,
        throttle_per_minute=max(1, n) * 60,  # never waits: one batch could hold them all
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now()
    )
    started = time.perf_counter()
    assert sending.broadcast_start(broadcast_id=broadcast.pk)
    freeze_s = time.perf_counter() - started
    log(f"  ledger frozen: {n:,} rows in {freeze_s:.2f} s")

    settings.BROADCAST_BATCH_SECONDS = 1  # a batch of a second's share, so progress shows; slots never wait
    batches = 0
    started = time.perf_counter()
    while Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENDING).exists():
        Broadcast.objects.filter(pk=broadcast.pk).update(batch_started_at=None)  # the next slot at once
        _opened, opened_parts = sending.batch_open(broadcast_id=broadcast.pk)
        if opened_parts:  # as the batch task does: the other parts on the other `email` workers, one here
            in_parallel(parts, lambda: sending.broadcast_send_part(broadcast_id=broadcast.pk))
        batches += 1
    send_s = time.perf_counter() - started
    sent = BroadcastSend.objects.filter(broadcast_id=broadcast.pk, status=SendStatus.SENT).count()
    rate = sent / send_s
    log(
        f"  broadcast: {sent:,} sent in {send_s:.1f} s over {batches} batches by {parts} parts: {rate:,.0f} messages/s"
    )

    # The floor: one message rendered once, sent `sent` times over as many connections as the parts used.
    row = BroadcastSend.objects.filter(broadcast_id=broadcast.pk).select_related("lead").first()
    profile = sender_profile()
    message = rendering.build_message(
        template,
        language="ja",
        profile=profile,
        envelope=rendering.Envelope(
            lead=row.lead,
            message_id=sending.message_id(broadcast, row.lead_id, profile),
            tracking=rendering.Tracking(lead_id=row.lead_id, message_id="floor", campaign_id=campaign.pk),
        ),
    )
    raw = message.message().as_bytes(linesep="\r\n")  # rendered and serialised once
    sender, recipients = message.from_email, message.recipients()

    def copies() -> None:
        with get_connection(fail_silently=False) as smtp:
            # the same SMTP exchange as the backend's (pipelined when offered)
            for _i in range(sent // parts):
                sendmail_pipelined(smtp.connection, sender, recipients, raw)

    started = time.perf_counter()
    in_parallel(parts, copies)
    floor_s = time.perf_counter() - started
    floor_rate = sent // parts * parts / floor_s
    log(
        f"  floor: {sent // parts * parts:,} pre-rendered copies in {floor_s:.1f} s: {floor_rate:,.0f} messages/s"
    )
    return {
        "key": "broadcast_send",
        "figure": f"broadcast to {n:,} recipients rendered and handed to a local SMTP sink",
        "unit": "messages/s",
        "rate": rate,
        "sent": sent,
        "seconds": send_s,
        "batches": batches,
        "parts": parts,
        "freeze_seconds": freeze_s,
        "floor": {
            "what": "the same sink receiving copies of one message rendered and serialised once, over as many "
            "connections from as many processes as the parts",
            "rate": floor_rate,
        },
        "ratio": floor_rate / rate,
        "target": f"≥ {TARGET_RATE:,} messages/s for 100,000 recipients on 2 cores",
        "met": rate >= TARGET_RATE if n >= FULL else None,  # the target is for 100,000
    }


def enrol_figure(n: int, segment, template, campaign, log=print) -> dict:
    from django.db import connection, transaction

    from leads.models import Lead
    from nurture.models import Enrolment, SegmentMember, Sequence, SequenceStep
    from nurture.sequences import services

    sequence = Sequence.objects.create(name="bench: ステップメール", campaign=campaign)
    step = SequenceStep.objects.create(
        sequence=sequence, position=1, template=template, wait_days=0, send_hour=10
    )
    leads = Lead.objects.filter(pk__in=SegmentMember.objects.filter(segment=segment).values("lead_id"))
    started = time.perf_counter()
    enrolled = services.enrol_leads(sequence=sequence, leads=leads, source="manual")
    ours_s = time.perf_counter() - started
    log(f"  enrolment: {enrolled:,} leads in {ours_s:.2f} s")
    Enrolment.objects.filter(sequence=sequence).delete()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Enrolment._meta.db_table} (sequence_id, lead_id, state, source, exit_reason, "
            "current_step_id, next_send_at, enrolled_at) SELECT %s, lead_id, 'active', 'manual', '', %s, now(), "
            f"now() FROM {SegmentMember._meta.db_table} WHERE segment_id = %s",
            [sequence.pk, step.pk, segment.pk],
        )
    floor_s = time.perf_counter() - started
    log(f"  floor: the bare INSERT … SELECT in {floor_s:.2f} s")
    return {
        "key": "sequence_enrol",
        "figure": f"{n:,} segment members enrolled in a sequence",
        "unit": "s",
        "seconds": ours_s,
        "enrolled": enrolled,
        "floor": {"what": "the bare INSERT … SELECT of the same rows", "seconds": floor_s},
        "ratio": ours_s / floor_s,
        "target": f"< {TARGET_ENROL_S} s for 100,000",
        "met": ours_s < TARGET_ENROL_S if n >= FULL else None,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--parts",
        type=int,
        default=2,
        help="processes sending each batch at once (BROADCAST_BATCH_PARTS: compose's two email workers)",
    )
    parser.add_argument(
        "--sink",
        choices=("smtp-sink", "aiosmtpd"),
        default=DEFAULT_SINK,
        help="the local SMTP server (default: Postfix's smtp-sink when installed)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--note", default="", help="what the result file should say about the run (load, machine)"
    )
    args = parser.parse_args(argv)
    url = (
        args.database_url
        or os.environ.get("BENCH_DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/sm_bench_mail"
    )
    ensure_database(url, fresh=True)
    if args.sink == "smtp-sink" and not SMTP_SINK:
        raise SystemExit("smtp-sink is not installed (Debian: apt-get install postfix)")
    sink, port = start_sink(args.sink)
    os.environ.update(
        # DEBUG is off, so the app wants a strong key; one per run does (nothing signed outlives the run).
        SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
        EMAIL_BACKEND="salesmarketing.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        SITE_URL="https://crm.example.jp",
    )
    try:
        setup_django(url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"{args.recipients:,} recipients")
        segment, template, campaign = populate(args.recipients)
        result = {
            "recipients": args.recipients,
            "note": args.note,
            "sink": args.sink,
            "figures": [
                broadcast_figure(args.recipients, segment, template, campaign, args.parts),
                enrol_figure(args.recipients, segment, template, campaign),
            ],
        }
    finally:
        sink.kill()
    args.results_dir.mkdir(exist_ok=True)
    suffix = "" if args.sink == "smtp-sink" else f"-{args.sink}"
    (args.results_dir / f"mail-{args.recipients}{suffix}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    )
    for f in result["figures"]:
        verdict = {True: "met", False: "NOT met", None: "not judged below 100,000"}[f["met"]]
        print(f"{f['figure']}: {verdict} ({f['target']})")


if __name__ == "__main__":
    main()
