"""Fill the database with demo data so every page looks alive on first start.

Idempotent: a second run finds what the first one made and adds nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from salesmarketing.demo import DEMO_PASSWORD, USERS, seed_users


class Command(BaseCommand):
    help = "Create demo users, teams and data (idempotent). Refuses to run with DEBUG off unless --force."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo adds demo users with known passwords; DEBUG is off. Use --force to run anyway."
            )
        with transaction.atomic():
            seed_users()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data is ready. Log in with any of these (password for all: {DEMO_PASSWORD}):"
            )
        )
        for username, display_name, role, _team, _manages in USERS:
            self.stdout.write(f"  {username:<11} {role.label:<10} {display_name}")
