"""Recompute personas, attribution and the daily roll-ups for every lead, in this process."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from campaigns.rebuild import attribution_rebuild_now


class Command(BaseCommand):
    help = "Match every lead to its persona and recompute attribution and the roll-ups (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="threads, each recomputing its share of the leads (one id range) at once (default 1)",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        days = attribution_rebuild_now(workers=max(1, options["workers"]))
        self.stdout.write(
            self.style.SUCCESS(
                f"Attribution rebuilt: {days} days rolled up in {time.perf_counter() - started:.1f}s"
            )
        )
