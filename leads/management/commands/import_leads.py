"""Import a CSV list of leads from the command line: the same import as the /leads/import/ page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from leads.choices import LeadSource, TouchType
from leads.importing import (
    EXTRA,
    IGNORE,
    TARGETS,
    ImportFileError,
    custom_targets,
    guess_mapping,
    import_job_create,
    import_job_parse,
    import_job_run,
    mapping_errors,
)
from leads.models import Campaign
from salesmarketing.dates import check_date


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file (UTF-8, UTF-8 with BOM or Shift_JIS/CP932). Columns are matched by their "
        "headers (メールアドレス, 氏名, 会社名 …); each row becomes a touch, and importing the same file again "
        "changes nothing. Rows with errors are listed with their line number; the others are imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file.")
        parser.add_argument(
            "--source-name", default="", help="Where the list comes from, e.g. 'Japan IT Week 2026'."
        )
        parser.add_argument(
            "--campaign", metavar="UTM", help="Link every row to the campaign with this UTM code."
        )
        parser.add_argument(
            "--type",
            dest="touch_type",
            default=TouchType.LIST_IMPORT,
            choices=TouchType.values,
            help="What each row is (default: list_import, which earns no engagement points).",
        )
        parser.add_argument(
            "--lead-source",
            default=LeadSource.IMPORT,
            choices=LeadSource.values,
            help="The source of leads the file creates (default: import).",
        )
        parser.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        parser.add_argument(
            "--date", help="YYYY-MM-DD: when the rows happened, for files without a date column."
        )
        parser.add_argument(
            "--map",
            dest="overrides",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=(
                "Override the automatic match of one column (by header). Fields: "
                f"{', '.join(sorted(TARGETS))}, or custom.KEY for a lead custom field."
            ),
        )

    def handle(
        self,
        *args,
        path: str,
        source_name: str,
        campaign: str | None,
        touch_type: str,
        lead_source: str,
        encoding: str,
        date: str | None,
        overrides: list[str],
        **options,
    ):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        campaign_obj = _campaign(campaign)
        occurred_at = _noon_of(date)
        try:
            job = import_job_create(content=file.read_bytes(), file_name=file.name, encoding=encoding)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        parsed = import_job_parse(job)
        # the leads' live custom fields ("custom.<key>"), which the import page offers too
        targets = custom_targets()
        custom = {c.target for c in targets}
        mapping = guess_mapping(parsed.headers, targets)
        for item in overrides:
            column, _sep, target = item.partition("=")
            if target not in TARGETS | custom or column not in parsed.headers:
                raise CommandError(f"--map {item!r}: no column {column!r} or no field {target!r}.")
            mapping[parsed.headers.index(column)] = target
        self.stdout.write(f"{file.name}: {len(parsed.rows):,} rows, {parsed.encoding_label}")
        for index, header in enumerate(parsed.headers):
            target = mapping[index]
            shown = {EXTRA: "(kept as extra information)", IGNORE: "(ignored)"}.get(target, target)
            self.stdout.write(f"  {header or f'#{index + 1}'} → {shown}")
        problems = mapping_errors(mapping)
        if problems:
            raise CommandError(" ".join(problems) + " Use --map COLUMN=email.")
        job = import_job_run(
            job=job,
            mapping=mapping,
            touch_type=touch_type,
            lead_source=lead_source,
            campaign=campaign_obj,
            source_name=source_name,
            occurred_at=occurred_at,
        )
        self._report(job)

    def _report(self, job) -> None:
        for error in job.errors:
            self.stdout.write(f"line {error['line']}: {error['reason']}")
        if job.error_count > len(job.errors):
            self.stdout.write(f"… and {job.error_count - len(job.errors):,} more rows with errors")
        summary = (
            f"Imported {job.accepted_count:,} rows ({job.leads_created:,} new leads); "
            f"{job.duplicate_count:,} already imported; {job.error_count:,} rows with errors."
        )
        self.stdout.write(self.style.WARNING(summary) if job.error_count else self.style.SUCCESS(summary))


def _campaign(utm_code: str | None) -> Campaign | None:
    """The campaign named by --campaign (its UTM code), or None when not given."""
    if not utm_code:
        return None
    campaign = Campaign.objects.filter(utm_campaign=utm_code).first()
    if campaign is None:
        raise CommandError(f"No campaign has the UTM code {utm_code!r}.")
    return campaign


def _noon_of(date: str | None) -> dt.datetime | None:
    """--date as noon of that day, local time, or None when not given."""
    if not date:
        return None
    try:
        day = check_date(dt.date.fromisoformat(date))
    except ValueError as exc:
        raise CommandError(f"--date must look like 2026-04-01: {exc}") from exc
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)), timezone.get_default_timezone())
