"""Import jobs: an uploaded file kept for the mapping step, then run once, with its outcome recorded."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

from django.db import transaction
from django.utils import timezone

from leads.importing.files import ParsedFile, guess_mapping, mapping_errors, parse
from leads.importing.rows import import_rows
from leads.models import ImportJob

MAX_ERRORS_KEPT = 1000


class ImportAlreadyStarted(Exception):
    """Another request is running (or has run) this import job."""


def import_job_create(*, content: bytes, file_name: str, user=None, encoding: str = "auto") -> ImportJob:
    """Store an uploaded file and what its columns look like. Raises ImportFileError for an unreadable file."""
    parsed = parse(content, encoding)
    return ImportJob.objects.create(
        file_name=file_name[:255],
        file_sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        encoding=parsed.encoding,
        headers=parsed.headers,
        mapping={str(index): target for index, target in guess_mapping(parsed.headers).items()},
        created_by=user,
    )


def import_job_parse(job: ImportJob) -> ParsedFile:
    encoding = {"utf-8-sig": "auto", "utf-16": "auto"}.get(job.encoding, job.encoding or "auto")
    return parse(bytes(job.content), encoding)


def import_job_run(
    *,
    job: ImportJob,
    mapping: dict[int, str],
    touch_type: str,
    lead_source: str,
    campaign=None,
    source_name: str = "",
    occurred_at: dt.datetime | None = None,
) -> ImportJob:
    """Import an uploaded file with the chosen mapping and options, and record the outcome on the job.

    Each batch of 1,000 rows commits on its own, so a stopped import can simply be run again: rows already
    stored count as duplicates.
    """
    problems = mapping_errors(mapping)
    if problems:
        raise ValueError(" ".join(problems))
    # Claim the job, so a double click or a second tab cannot run it twice at once.
    if not ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
        status=ImportJob.Status.RUNNING
    ):
        raise ImportAlreadyStarted(job.pk)
    try:
        result = import_rows(
            import_job_parse(job),
            mapping=mapping,
            touch_type=touch_type,
            lead_source=lead_source,
            campaign_id=campaign.pk if campaign else None,
            source_name=source_name,
            file_name=job.file_name,
            occurred_at=occurred_at,
        )
    except Exception:
        # Rows stored so far stay (each batch commits); running the file again skips them as duplicates.
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, finished_at=timezone.now())
        raise
    with transaction.atomic():
        job.mapping = {str(index): target for index, target in mapping.items()}
        job.touch_type, job.lead_source, job.campaign, job.source_name = (
            touch_type,
            lead_source,
            campaign,
            source_name,
        )
        job.rows_total, job.accepted_count, job.duplicate_count = (
            result.rows,
            result.accepted,
            result.duplicates,
        )
        job.leads_created, job.error_count = result.leads_created, len(result.errors)
        job.errors = [
            {"line": e.line, "reason": e.reason, "value": e.value} for e in result.errors[:MAX_ERRORS_KEPT]
        ]
        job.status, job.finished_at = ImportJob.Status.DONE, timezone.now()
        job.save()
    return job


def import_job_failed_rows(job: ImportJob) -> bytes:
    """The header and the rows the report lists as not imported, as a CSV file in the uploaded file's encoding
    and delimiter (a Shift_JIS file from Excel comes back Shift_JIS), to fix and import again.

    Cells are written as the file had them, without the export's formula guard: this is the uploader's own
    data going back into the importer, and a `'` added to a cell would be imported with it."""
    lines = {error["line"] for error in job.errors}
    parsed = import_job_parse(job)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=parsed.delimiter, lineterminator="\r\n")
    writer.writerow(parsed.headers)
    for line, cells in parsed.rows:
        if line in lines:
            writer.writerow([cell.replace("\x00csv-error: ", "") for cell in cells])
    # Characters the encoding cannot hold (the U+FFFD of bytes that were invalid in the file) become "?".
    return out.getvalue().encode(parsed.encoding, errors="replace")
