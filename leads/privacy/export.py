"""The lead list as a CSV file: the viewer's leads with the list's filters, streamed row by row.

Excel is the reader we write for. UTF-8 starts with a byte-order mark (without it Excel reads Japanese as
mojibake); CP932 ("Shift_JIS" as Windows and older Excel write it) is offered for tools that read nothing else.
A cell an attacker could have typed (a lead's name from a web form, a company from an import) must not run as a
formula when the file is opened, so text cells that start with a formula character get a leading quote, as
OWASP's "CSV injection" guidance says.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from leads.custom_fields.selectors import value_display
from leads.models import FieldDefinition, Lead

ENCODINGS = {"utf-8": "utf-8", "cp932": "cp932"}
DEFAULT_ENCODING = "utf-8"
# Rows fetched per round trip; the file is written while the next batch is read, so memory stays flat.
CHUNK_SIZE = 2000
BUFFER_SIZE = 64 * 1024
COLUMNS = (
    "name",
    "email",
    "company",
    "title",
    "lifecycle_stage",
    "awareness_stage",
    "fit_score",
    "engagement_score",
    "total_score",
    "owner",
    "created_at",
    "unsubscribed_at",
)
# OWASP: a cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Sheets. The
# full-width forms are what a Japanese IME types; spreadsheets in Japanese locales may treat them the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_safe(value: object) -> object:
    """The value as a cell that cannot run as a formula: text starting with a formula character gets a `'`.

    Numbers are left alone: a score of -5 is a number to a spreadsheet, not a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def header(custom: Sequence[FieldDefinition] = ()) -> list[str]:
    return [capfirst(str(Lead._meta.get_field(name).verbose_name)) for name in COLUMNS] + [
        d.label for d in custom
    ]


def custom_cell(definition: FieldDefinition, value: object) -> object:
    """A custom value as a cell: a number stays a number (no grouping), a list is joined with "; "."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, str) and definition.field_type == "date":
        return value  # ISO, which every spreadsheet reads as a date
    return value_display(definition, value)


def lead_row(lead: Lead, custom: Sequence[FieldDefinition] = ()) -> list[object]:
    return [
        csv_safe(value)
        for value in (
            lead.name,
            lead.email,
            lead.company.name if lead.company else "",
            lead.title,
            lead.get_lifecycle_stage_display(),
            lead.get_awareness_stage_display(),
            lead.fit_score,
            lead.engagement_score,
            lead.total_score,
            str(lead.owner) if lead.owner else "",
            _when(lead.created_at),
            _when(lead.unsubscribed_at),
            *(custom_cell(d, lead.custom.get(d.key)) for d in custom),
        )
    ]


class _Line:
    """A file-like object whose write() hands the csv module's line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def leads_csv(
    *, leads: QuerySet[Lead], encoding: str = DEFAULT_ENCODING, custom: Sequence[FieldDefinition] = ()
) -> Iterator[bytes]:
    """The CSV file as chunks of bytes, in one query however many leads there are; `custom`: the custom fields
    exported (a column each, after the built-in ones, read from the lead's own row)."""
    codec = ENCODINGS.get(encoding, DEFAULT_ENCODING)
    rows = leads.select_related("company", "owner").iterator(chunk_size=CHUNK_SIZE)
    return _encode(_lines([header(custom)], (lead_row(lead, custom) for lead in rows)), codec)


def _lines(*row_sets: Iterable[list[object]]) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")  # CRLF: what Excel writes and expects
    for rows in row_sets:
        for row in rows:
            yield writer.writerow(row)


def _encode(lines: Iterator[str], codec: str) -> Iterator[bytes]:
    """Lines encoded and grouped into chunks of about BUFFER_SIZE bytes (one write per line would be slow)."""
    buffer = ["\ufeff"] if codec == "utf-8" else []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= BUFFER_SIZE:
            yield _join(buffer, codec)
            buffer, size = [], 0
    if buffer:
        yield _join(buffer, codec)


def _join(lines: list[str], codec: str) -> bytes:
    # CP932 lacks some characters (emoji, a few kanji variants): they become "?" rather than failing the file.
    return "".join(lines).encode(codec, errors="replace")
