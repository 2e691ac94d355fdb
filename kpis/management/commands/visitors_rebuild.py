"""Recompute the unique-visitor roll-up from every stored page view (PostgreSQL)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from kpis.services import visitor_periods_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the visitors per week, month and quarter (kpis_visitorperiod and its counts) from the page "
        "views, after a bulk load with the trigger off or a restore. Ingest waits meanwhile."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        rows = visitor_periods_rebuild()
        self.stdout.write(
            self.style.SUCCESS(
                f"Visitor roll-up rebuilt: {rows} visitor-periods in {time.perf_counter() - started:.1f}s"
            )
        )
