"""Writes to segments: create, update, delete, and a static list's members (by hand, from a selection, from a CSV)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from leads.importing.files import ENCODING_LABELS, ImportFileError, guess_mapping, parse
from leads.models import Lead
from nurture.models import Segment, SegmentKind, SegmentMember
from nurture.segments.rules import RuleError, empty_rules, validate
from nurture.segments.selectors import visible_members
from salesmarketing.models import User

BATCH = 1000


def _batched(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RulesInvalid(ValidationError):
    """The rules have errors; `errors` holds each with its location (for the page and the API's 422)."""

    def __init__(self, errors: list[RuleError]):
        super().__init__([error.msg for error in errors])
        self.rule_errors = errors


class NotStatic(ValidationError):
    def __init__(self) -> None:
        super().__init__(_("Only a static segment has a list of members."))


def _clean(*, name: str, kind: str, rules: Any) -> dict:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Enter a name.")})
    if kind not in SegmentKind.values:
        raise ValidationError({"kind": _("Choose dynamic or static.")})
    if kind == SegmentKind.STATIC:
        return {}
    tree = rules if rules is not None else empty_rules()
    errors = validate(tree)
    if errors:
        raise RulesInvalid(errors)
    return tree


@transaction.atomic
def segment_create(
    *, name: str, kind: str = SegmentKind.DYNAMIC, rules: Any = None, by: User | None
) -> Segment:
    """A new segment; a dynamic one's rules are checked first (RulesInvalid with each rule's error)."""
    tree = _clean(name=name, kind=kind, rules=rules)
    return Segment.objects.create(name=name.strip(), kind=kind, rules=tree, created_by=by)


@transaction.atomic
def segment_update(*, segment: Segment, name: str | None = None, rules: Any = None) -> Segment:
    """Rename a segment or change a dynamic one's rules; the kind stays (a static list keeps its members)."""
    new_name = segment.name if name is None else name
    new_rules = segment.rules if rules is None else rules
    tree = _clean(name=new_name, kind=segment.kind, rules=new_rules)
    segment.name, segment.rules = new_name.strip(), tree
    segment.save(update_fields=["name", "rules", "updated_at"])
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    segment.delete()


def _require_static(segment: Segment) -> None:
    if segment.kind != SegmentKind.STATIC:
        raise NotStatic()


@transaction.atomic
def segment_members_add(*, segment: Segment, lead_ids: Iterable[int], viewer: User | None) -> int:
    """Put leads on a static list; ids the viewer may not see (or that do not exist) are left out, leads already
    on it stay once (the unique constraint). Returns how many were added."""
    _require_static(segment)
    added = 0
    for batch in _batched(sorted(set(lead_ids)), BATCH):
        ids = visible_members(Lead.objects.filter(id__in=batch), viewer).values_list("id", flat=True)
        already = set(
            SegmentMember.objects.filter(segment=segment, lead_id__in=batch).values_list("lead_id", flat=True)
        )
        rows = [SegmentMember(segment=segment, lead_id=pk) for pk in ids if pk not in already]
        SegmentMember.objects.bulk_create(rows, ignore_conflicts=True)
        added += len(rows)
    return added


@transaction.atomic
def segment_members_remove(*, segment: Segment, lead_ids: Iterable[int]) -> int:
    _require_static(segment)
    deleted, _detail = SegmentMember.objects.filter(segment=segment, lead_id__in=list(set(lead_ids))).delete()
    return deleted


# --- A static list from a CSV of email addresses ------------------------------------------------------------

ADDED, ALREADY, NOT_FOUND, DUPLICATE, INVALID = "added", "already", "not_found", "duplicate", "invalid"


@dataclass
class ImportRow:
    line: int
    email: str
    status: str


@dataclass
class ImportReport:
    encoding: str
    rows: list[ImportRow] = field(default_factory=list)

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in (ADDED, ALREADY, NOT_FOUND, DUPLICATE, INVALID)}

    @property
    def problems(self) -> list[ImportRow]:
        return [row for row in self.rows if row.status not in (ADDED, ALREADY)]


def _email_rows(content: bytes) -> tuple[str, list[tuple[int, str]]]:
    """(encoding, [(line, email cell)]): the column the header names as email (メールアドレス, email …); a file
    of one column without such a header is a bare list, its first line an address too."""
    parsed = parse(content)
    column = next(
        (index for index, target in guess_mapping(parsed.headers).items() if target == "email"), None
    )
    rows = parsed.rows
    if column is None:
        if len(parsed.headers) != 1 or "@" not in parsed.headers[0]:
            raise ImportFileError(
                _("The file has no email column (a header such as “email” or “メールアドレス”).")
            )
        column, rows = 0, [(1, parsed.headers), *rows]
    return parsed.encoding, [
        (line, cells[column].strip() if column < len(cells) else "") for line, cells in rows
    ]


def _classify(rows: list[tuple[int, str]]) -> tuple[list[ImportRow], dict[str, list[ImportRow]]]:
    report: list[ImportRow] = []
    pending: dict[str, list[ImportRow]] = {}
    seen: set[str] = set()
    for line, email in rows:
        key = email.lower()
        row = ImportRow(line=line, email=email, status=INVALID)
        report.append(row)
        try:
            validate_email(email)
        except ValidationError:
            continue
        if key in seen:
            row.status = DUPLICATE
            continue
        seen.add(key)
        pending.setdefault(key, []).append(row)
    return report, pending


@transaction.atomic
def segment_import_csv(*, segment: Segment, content: bytes, viewer: User | None) -> ImportReport:
    """Add the leads a CSV of email addresses names (UTF-8 or Shift_JIS, as the lead import reads them); every row
    is reported: added, already on the list, not found, a duplicate of an earlier row, or not an address.
    Raises ImportFileError when the file as a whole cannot be read."""
    _require_static(segment)
    encoding, rows = _email_rows(content)
    report, pending = _classify(rows)
    for batch in _batched(list(pending), BATCH):
        leads = Lead.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=batch)
        found = {email.lower(): pk for email, pk in visible_members(leads, viewer).values_list("email", "id")}
        already = set(
            SegmentMember.objects.filter(segment=segment, lead_id__in=found.values()).values_list(
                "lead_id", flat=True
            )
        )
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, lead_id=pk) for pk in found.values() if pk not in already],
            ignore_conflicts=True,
        )
        for key in batch:
            status = NOT_FOUND if key not in found else ALREADY if found[key] in already else ADDED
            for row in pending[key]:
                row.status = status
    return ImportReport(encoding=encoding, rows=report)
