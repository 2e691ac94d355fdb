"""Enrolment of a segment into a sequence at volume, on its own (bench/mail.py's enrol figure without the broadcast).

    uv run python bench/enrol.py [--recipients 100000] [--database-url postgres://…] [--reuse] [--repeat 3]

The data is bench/mail.py's populate(): N consenting leads in one static segment. Each repeat times
`nurture.sequences.services.enrol_leads` for the segment's members into a new one-step sequence, then the floor:
the bare INSERT … SELECT of the same rows from the segment's member table into a fresh sequence. `--reuse` keeps
the database of a previous run (populated at the same N) instead of making it afresh.
Target: < 10 s for 100,000 (issue #18). Prints the figures; writes nothing. Beside the wall-clock seconds, the
PostgreSQL backend's CPU seconds: on a shared machine they say what the statement cost whatever the wait for a core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import ensure_database, setup_django  # noqa: E402
from bench.mail import populate  # noqa: E402


def _sequence(template, campaign, label: str):
    from nurture.models import Sequence, SequenceStep

    sequence = Sequence.objects.create(name=f"bench: ステップメール {label}", campaign=campaign)
    step = SequenceStep.objects.create(
        sequence=sequence, position=1, template=template, wait_days=0, send_hour=10
    )
    return sequence, step


def backend_cpu_s() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (user + system, from /proc): on a machine
    others share, what the statement cost, whatever the wait for a core."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def once(segment, template, campaign, label: str) -> tuple[int, float, float, float, float]:
    from django.db import connection, transaction

    from leads.models import Lead
    from nurture.models import Enrolment, SegmentMember
    from nurture.sequences import services

    sequence, _step = _sequence(template, campaign, f"{label} ours")
    leads = Lead.objects.filter(pk__in=SegmentMember.objects.filter(segment=segment).values("lead_id"))
    cpu = backend_cpu_s()
    started = time.perf_counter()
    enrolled = services.enrol_leads(sequence=sequence, leads=leads, source="manual")
    ours_s = time.perf_counter() - started
    ours_cpu = backend_cpu_s() - cpu
    floor_sequence, floor_step = _sequence(template, campaign, f"{label} floor")
    cpu = backend_cpu_s()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Enrolment._meta.db_table} (sequence_id, lead_id, state, source, exit_reason, "
            "current_step_id, next_send_at, enrolled_at) SELECT %s, lead_id, 'active', 'manual', '', %s, now(), "
            f"now() FROM {SegmentMember._meta.db_table} WHERE segment_id = %s",
            [floor_sequence.pk, floor_step.pk, segment.pk],
        )
    floor_s = time.perf_counter() - started
    return enrolled, ours_s, floor_s, ours_cpu, backend_cpu_s() - cpu


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sm_bench_enrol")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    ensure_database(args.database_url, fresh=not args.reuse)
    os.environ.setdefault("SITE_URL", "https://crm.example.jp")
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from nurture.models import EmailTemplate, Enrolment, Segment

    segment = Segment.objects.filter(name="bench: 購読者").first() if args.reuse else None
    if segment is None:
        segment, template, campaign = populate(args.recipients)
    else:
        template = EmailTemplate.objects.get(name="bench: 月刊ニュースレター")
        from leads.models import Campaign

        campaign = Campaign.objects.get(name="bench: ニュースレター")
        Enrolment.objects.all().delete()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    from django.utils import timezone

    from nurture.sequences.calendar import step_due

    started = time.perf_counter()
    step_due(timezone.now(), wait_days=1, send_hour=10)
    print(
        f"the business-day calendar's first use: {time.perf_counter() - started:.2f} s (importing `holidays` "
        "compiles its 279 country modules without bytecode; once per process, not per lead; bench/mail.py's "
        "enrolment figure includes it, the runs below do not)"
    )
    for i in range(args.repeat):
        enrolled, ours_s, floor_s, ours_cpu, floor_cpu = once(segment, template, campaign, str(i))
        print(
            f"run {i + 1}: enrol_leads {enrolled:,} in {ours_s:.2f} s (database CPU {ours_cpu:.2f} s); "
            f"floor (bare INSERT … SELECT) {floor_s:.2f} s (CPU {floor_cpu:.2f} s); ratio {ours_s / floor_s:.1f}; "
            f"load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
