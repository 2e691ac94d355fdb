"""`python manage.py export_lead LEAD` — print (or write) everything held about one lead as JSON.

LEAD is the lead's id or email address (matched case-insensitively). For answering a person's request to see
their data (APPI 開示請求 / GDPR article 15) from a shell.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.models import Lead
from leads.privacy import lead_export_json


def find_lead(value: str) -> Lead:
    """The lead with this id or email; CommandError when there is none."""
    value = value.strip()
    lead = (
        Lead.objects.filter(pk=int(value)).first()
        if value.isdigit()
        else Lead.objects.filter(email__iexact=value).first()
    )
    if lead is None:
        raise CommandError(f"No lead with id or email {value!r}.")
    return lead


class Command(BaseCommand):
    help = "Export one lead's personal data as JSON (to stdout, or to --output)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("lead", help="The lead's id or email address.")
        parser.add_argument("--output", "-o", help="Write the JSON to this file instead of stdout.")

    def handle(self, *args, lead: str, output: str | None = None, **options) -> None:
        document = lead_export_json(lead=find_lead(lead))
        if output:
            Path(output).write_text(document + "\n", encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(document)
