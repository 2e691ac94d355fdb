"""`python manage.py erase_lead LEAD --yes [--by USERNAME]` — erase one lead at the person's request.

LEAD is the lead's id or email address. What is removed and what is kept is described in leads.privacy. Without
`--yes` it only says what it would erase. Prints the audit record's id, never the person's data.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leads.management.commands.export_lead import find_lead
from leads.models import ErasureRecord
from leads.privacy import lead_erase


class Command(BaseCommand):
    help = "Erase one lead's personal data (the lead, its touches, handoffs; deals keep their amounts)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("lead", help="The lead's id or email address.")
        parser.add_argument("--yes", action="store_true", help="Really erase (without it: a dry run).")
        parser.add_argument("--by", help="Username of the person who handled the request (for the audit).")

    def handle(self, *args, lead: str, yes: bool = False, by: str | None = None, **options) -> None:
        target = find_lead(lead)
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(f"No user {by!r}.")
        if not yes:
            self.stdout.write(
                f"Would erase lead #{target.pk} with {target.touches.count()} touches and "
                f"{target.handoffs.count()} handoffs. Run again with --yes to erase."
            )
            return
        record = lead_erase(lead=target, by=user, via=ErasureRecord.Via.COMMAND)
        self.stdout.write(f"Erased lead #{record.lead_id} (audit record {record.pk}): {record.counts}")
