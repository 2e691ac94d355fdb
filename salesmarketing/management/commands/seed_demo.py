"""Fill the database with demo data so every page looks alive on first start.

Idempotent: a second run finds what the first one made and adds nothing.
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from salesmarketing.demo import DEMO_PASSWORD, USERS, seed_users

# Each app may have a `demo.py` with `seed(*, users, stdout)`, each idempotent. Campaigns come first so that the
# demo touches can carry their UTM codes.
DEMO_APPS = ("campaigns", "leads", "pipeline", "quotes", "nurture", "kpis")


def _demo_module(app: str):
    try:
        return importlib.import_module(f"{app}.demo")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app}.demo":
            raise
        return None


class Command(BaseCommand):
    help = "Create demo users, teams and data (idempotent). Refuses to run with DEBUG off unless --force."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo adds demo users with known passwords; DEBUG is off. Use --force to run anyway."
            )
        # The demo replays weeks of handoffs; their notification emails would only bury the logins printed below.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
            transaction.atomic(),
        ):
            users = seed_users()
            for app in DEMO_APPS:
                module = _demo_module(app)
                if module is not None:
                    module.seed(users=users, stdout=self.stdout)
            # Campaign stories that need the leads and deals above; then personas and attribution for everyone.
            _demo_module("campaigns").seed_after(users=users, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data is ready. Log in with any of these (password for all: {DEMO_PASSWORD}):"
            )
        )
        for username, display_name, role, _team, _manages in USERS:
            self.stdout.write(f"  {username:<11} {role.label:<10} {display_name}")
