"""Match leads to personas with the current rules (everyone, or the given lead ids)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db.models import Max, Min

from campaigns.attribution import REBUILD_BATCH_SIZE, LeadSelection, rollups_refresh
from campaigns.personas import personas_match
from leads.models import Lead


class Command(BaseCommand):
    help = "Match leads to personas with the active rules; leads whose persona was set by hand are skipped."

    def add_arguments(self, parser):
        parser.add_argument("lead_ids", nargs="*", type=int, help="Only these leads (default: everyone).")

    def handle(self, *args, lead_ids, **options):
        if lead_ids:
            selections = [LeadSelection(ids=tuple(lead_ids))]
        else:
            bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
            selections = (
                [
                    LeadSelection(first_id=first, last_id=first + REBUILD_BATCH_SIZE - 1)
                    for first in range(bounds["lo"], bounds["hi"] + 1, REBUILD_BATCH_SIZE)
                ]
                if bounds["lo"] is not None
                else []
            )
        changed = sum(personas_match(selection=s) for s in selections)
        rollups_refresh()
        self.stdout.write(self.style.SUCCESS(f"{changed} leads changed persona."))
