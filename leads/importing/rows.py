"""Turning CSV rows into events for leads.ingest, and importing them in batches of 1,000."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from leads.choices import Industry
from leads.importing.files import CUSTOM_PREFIX, EXTRA, IGNORE, TARGET_FIELDS, ParsedFile
from leads.ingest import MAX_EVENTS_PER_BATCH, events_ingest, prefecture_region

IMPORT_SOURCE = "import"  # Touch.source of every imported row

_INDUSTRY_WORDS = [
    (Industry.MANUFACTURING, "製造 メーカー 機械 電機 化学 自動車 食品 素材 manufactur"),
    (Industry.IT, "it 情報通信 通信 ソフトウェア ソフト システム インターネット web saas software"),
    (Industry.FINANCE, "金融 銀行 保険 証券 finance bank insurance"),
    (Industry.RETAIL, "小売 卸 流通 商社 ec retail wholesale"),
    (Industry.CONSTRUCTION, "建設 不動産 建築 住宅 construction realestate real estate"),
    (Industry.LOGISTICS, "物流 運輸 運送 倉庫 logistics transport"),
    (Industry.HEALTHCARE, "医療 福祉 介護 病院 製薬 health medical"),
    (Industry.SERVICES, "サービス コンサル 人材 士業 service consult"),
    (Industry.PUBLIC, "官公庁 自治体 公共 教育 学校 大学 public government education"),
    (Industry.MEDIA, "メディア 広告 出版 放送 media advertis"),
]
_TRUE = frozenset("1 true yes y on はい 可 許可 同意 同意する 希望 希望する 要 ○ ◯ 〇 ✓".split())
_FALSE = frozenset("0 false no n off いいえ 不可 拒否 同意しない 不要 希望しない × ✕ -".split())
_DATE_RE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:時]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?\s*秒?)?\s*$"
)


VALUE_SHOWN_CHARS = 200  # of the bad value kept for the report


@dataclass
class RowError:
    line: int
    reason: str
    value: str = ""  # what the file holds where it went wrong, so the report shows what to fix


@dataclass
class ImportResult:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    leads_created: int = 0
    errors: list[RowError] = field(default_factory=list)


def _industry(value: str) -> str | None:
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if not text:
        return None
    if text in Industry.values:
        return text
    for industry, words in _INDUSTRY_WORDS:
        if any(word in text for word in words.split()):
            return industry
    return None


def _employee_count(value: str) -> int | None:
    text = unicodedata.normalize("NFKC", value).replace(",", "")
    match = re.search(r"\d+", text)
    if not match:
        return None
    number = int(match.group())
    if "万" in text[match.end() : match.end() + 2]:
        number *= 10_000
    return number if number <= 10_000_000 else None


def _consent(value: str) -> bool | None:
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _occurred_at(value: str) -> dt.datetime | None:
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.match(text)
    if match:
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            naive = dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
        return timezone.make_aware(naive, timezone.get_default_timezone())
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (
        parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, timezone.get_default_timezone())
    )


def row_to_event(
    line: int,
    cells: list[str],
    *,
    headers: list[str],
    mapping: dict[int, str],
    key_salt: str,
    touch_type: str,
    occurred_at: dt.datetime,
    base_properties: dict[str, Any],
) -> tuple[dict[str, Any] | None, str | None]:
    """(event, None) or (None, reason) for one row."""
    unreadable = _unreadable(cells, headers)
    if unreadable:
        return None, unreadable
    values, extra = _mapped_cells(cells, headers, mapping)
    email = unicodedata.normalize("NFKC", values.pop("email", "")).strip()
    if not email:
        return None, _("No email address.")
    event: dict[str, Any] = {
        "id": f"row:{_row_digest(cells, headers, key_salt)[:48]}",
        "type": touch_type,
        "email": email,
        "occurred_at": occurred_at,
        "properties": {**base_properties, "line": line},
    }
    if extra:
        event["properties"]["columns"] = extra
    _join_names(values)
    if "occurred_at" in values:
        when = _occurred_at(values.pop("occurred_at"))
        if when is None:
            return None, _("The date could not be read (use e.g. 2026/04/01 or 2026-04-01 10:30).")
        event["occurred_at"] = when
    _read_company_size(values, event)
    if "consent_email" in values:
        consent = _consent(values.pop("consent_email"))
        if consent is not None:
            event["consent_email"] = consent
    custom = {
        name.removeprefix(CUSTOM_PREFIX): values.pop(name)
        for name in list(values)
        if name.startswith(CUSTOM_PREFIX)
    }
    if custom:  # checked by type in leads.ingest; a bad value fails the row, naming the field
        event["custom"] = custom
    if values.get("prefecture") and not prefecture_region(values["prefecture"]):
        event["properties"]["prefecture_raw"] = values["prefecture"]
    event.update(values)
    return event, None


def _unreadable(cells: list[str], headers: list[str]) -> str | None:
    """Why the row cannot be read at all (broken CSV, bad bytes, more cells than headers), or None."""
    if cells and cells[0].startswith("\x00csv-error: "):
        return _("The row could not be read as CSV (%(detail)s).") % {"detail": cells[0][12:]}
    if "\ufffd" in "".join(cells):
        return _("The row contains bytes that are not valid in the file's encoding.")
    if any(cell.strip() for cell in cells[len(headers) :]):
        return _("The row has more columns than the header (%(n)s).") % {"n": len(headers)}
    return None


def _mapped_cells(
    cells: list[str], headers: list[str], mapping: dict[int, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The non-empty cells by the field they map to, and the extra columns kept by their header."""
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    for index, cell in enumerate(cells[: len(headers)]):
        target = mapping.get(index, IGNORE)
        cell = cell.strip()
        if target == IGNORE or not cell:
            continue
        if target == EXTRA:
            extra[headers[index] or f"column {index + 1}"] = cell
        else:
            values[target] = cell
    return values, extra


def _row_digest(cells: list[str], headers: list[str], key_salt: str) -> str:
    """The row's content, order-free, hashed with the import's salt: the same row imported again is a replay."""
    row_content = sorted(
        (headers[i] if i < len(headers) else "", c.strip()) for i, c in enumerate(cells) if c.strip()
    )
    return hashlib.sha256(json.dumps([key_salt, row_content], ensure_ascii=False).encode()).hexdigest()


def _join_names(values: dict[str, str]) -> None:
    """Last and first name columns (and their kana) make the name, unless a name column is mapped too."""
    for part in ("", "_kana"):
        last, first = values.pop(f"last_name{part}", ""), values.pop(f"first_name{part}", "")
        if (last or first) and not values.get(f"name{part}"):
            values[f"name{part}"] = f"{last} {first}".strip()


def _read_company_size(values: dict[str, str], event: dict[str, Any]) -> None:
    """Industry and employee count as the import reads them; what it cannot read stays in the properties."""
    if "industry" in values:
        raw = values.pop("industry")
        industry = _industry(raw)
        if industry:
            event["industry"] = industry
        event["properties"]["industry_raw"] = raw
    if "employee_count" in values:
        raw = values.pop("employee_count")
        count = _employee_count(raw)
        if count is not None:
            event["employee_count"] = count
        else:
            event["properties"]["employee_count_raw"] = raw


def _shown(text: str) -> str:
    # A NUL cannot be stored in PostgreSQL text or JSON: show it as the symbol for one.
    text = text.replace("\x00", "\u2400")
    return text if len(text) <= VALUE_SHOWN_CHARS else text[: VALUE_SHOWN_CHARS - 1] + "…"


def _bad_values(errors: dict[str, list[str]], event: dict[str, Any]) -> str:
    """The values of the fields the errors name, as the file had them."""
    values = []
    for name in errors:
        if name.startswith(CUSTOM_PREFIX):
            value = event.get("custom", {}).get(name.removeprefix(CUSTOM_PREFIX))
        else:
            value = event.get(name.split(".")[0])
        if isinstance(value, str | int | float) and str(value) and str(value) not in values:
            values.append(str(value))
    return _shown(" / ".join(values))


def _reason(errors: dict[str, list[str]]) -> str:
    labels = dict(TARGET_FIELDS)
    parts = []
    for name, messages in errors.items():
        label = (
            name.removeprefix(CUSTOM_PREFIX)
            if name.startswith(CUSTOM_PREFIX)
            else labels.get(name.split(".")[0])
        )
        text = " ".join(messages)
        parts.append(f"{label}: {text}" if label and name != "__all__" else text)
    return " / ".join(parts)


def import_rows(
    parsed: ParsedFile,
    *,
    mapping: dict[int, str],
    touch_type: str,
    lead_source: str,
    campaign_id: int | None = None,
    source_name: str = "",
    file_name: str = "",
    occurred_at: dt.datetime | None = None,
) -> ImportResult:
    """Import the parsed rows with this mapping; see the module docstring."""
    result = ImportResult(rows=len(parsed.rows))
    base_properties = {
        key: value for key, value in (("source_name", source_name), ("file", file_name)) if value
    }
    when = occurred_at or timezone.now()
    # What makes a row a different touch besides its contents; "now" is left out, so a re-import matches.
    key_salt = json.dumps(
        [touch_type, source_name.strip(), campaign_id, occurred_at.isoformat() if occurred_at else ""]
    )
    pending: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        if not pending:
            return
        outcome = events_ingest(
            events=[event for _line, event in pending],
            source=IMPORT_SOURCE,
            lead_source=lead_source,
            campaign_id=campaign_id,
            authenticated=True,  # a signed-in user chose this file and its mapping
        )
        result.accepted += outcome.accepted
        result.duplicates += outcome.duplicates
        result.leads_created += outcome.leads_created
        for rejected in outcome.rejected:
            line, event = pending[rejected.index]
            result.errors.append(
                RowError(
                    line=line, reason=_reason(rejected.errors), value=_bad_values(rejected.errors, event)
                )
            )
        pending.clear()

    for line, cells in parsed.rows:
        event, reason = row_to_event(
            line,
            cells,
            headers=parsed.headers,
            mapping=mapping,
            key_salt=key_salt,
            touch_type=touch_type,
            occurred_at=when,
            base_properties=base_properties,
        )
        if event is None:  # the row as a whole is wrong: show the row
            value = _shown(parsed.delimiter.join(cells).replace("\x00csv-error: ", ""))
            result.errors.append(RowError(line=line, reason=reason or "", value=value))
            continue
        pending.append((line, event))
        if len(pending) == MAX_EVENTS_PER_BATCH:
            flush()
    flush()
    result.errors.sort(key=lambda error: error.line)
    return result
