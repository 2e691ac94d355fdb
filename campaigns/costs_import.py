"""Import campaign costs from an ad platform's CSV export (Google / Yahoo! / Meta ads, or a hand-made sheet).

- Columns (Japanese or English headers): date, campaign (UTM code or exact name), amount, optional row id,
  optional description. `Day, Campaign, Cost` (Google Ads) and `日付, キャンペーン名, ご利用金額` both work.
- Encodings: UTF-8, UTF-8 with BOM (Excel's "CSV UTF-8"), UTF-16 with BOM and Shift_JIS / CP932.
- Every row is judged on its own: bad rows are reported with their line and reason, good rows are stored.
- Re-importing creates no duplicates: each row is stored with an external id (the file's row id, or else a
  fingerprint of its date, campaign, amount and description plus its occurrence number in the file), and a
  (campaign, external id) pair that already exists is counted as "already imported".
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from campaigns.models import CampaignCost
from leads.models import Campaign
from salesmarketing.dates import check_date

MAX_ROWS = 50_000
COLUMNS = {
    "date": "date day 日付 日 年月日 date(日付) 集計日 利用日 配信日 期間 レポート日",
    "campaign": "campaign campaignname utmcampaign utm キャンペーン キャンペーン名 施策 施策名 utmコード",
    "amount": "amount cost spend costjpy 金額 費用 ご利用金額 利用金額 広告費 コスト 消化金額 請求額 ご利用額 amountspent",
    "external_id": "id rowid row externalid 行id 明細id レコードid 取引id transactionid",
    "description": "description memo note 内容 摘要 備考 メモ 説明",
}
_STRIP = str.maketrans("", "", " \t_-・･()（）[]［］【】:：/／.")


def _norm(header: str) -> str:
    return unicodedata.normalize("NFKC", header).strip().lower().translate(_STRIP)


HEADER_MAP = {_norm(word): target for target, words in COLUMNS.items() for word in words.split()}
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT].*)?$")


class CostFileError(Exception):
    """The file as a whole cannot be read."""


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class CostImportResult:
    encoding: str = ""
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    total_amount: Decimal = Decimal(0)
    errors: list[RowError] = field(default_factory=list)


def decode(content: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 (with or without BOM), UTF-16 with BOM, else Shift_JIS (CP932)."""
    if content.startswith(codecs.BOM_UTF8):
        return content[3:].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return content.decode("utf-16", errors="replace"), "UTF-16"
    if b"\x00" in content[:4096]:
        raise CostFileError(_("This is not a CSV text file."))
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp932"), "Shift_JIS"
    except UnicodeDecodeError:
        # Mostly Shift_JIS with a damaged byte or two: those rows fail on their own (U+FFFD).
        return content.decode("cp932", errors="replace"), "Shift_JIS"


def parse_amount(text: str) -> Decimal:
    """'¥12,345' / '12,345円' / '１２３４５' / '1234.5' → Decimal yen (rounded half up)."""
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("¥", "").replace("円", "")
    cleaned = cleaned.replace("JPY", "").replace("\\", "").strip()
    if not cleaned:
        raise ValueError(_("the amount is empty"))
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not an amount") % {"value": text.strip()}) from None
    if not amount.is_finite():
        raise ValueError(_("“%(value)s” is not an amount") % {"value": text.strip()})
    if amount < 0:
        raise ValueError(_("the amount is negative"))
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def parse_date(text: str) -> dt.date:
    match = _DATE.match(unicodedata.normalize("NFKC", text))
    if not match:
        raise ValueError(_("“%(value)s” is not a date (use 2026-04-01)") % {"value": text.strip()})
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date (use 2026-04-01)") % {"value": text.strip()}) from None
    return check_date(day)


def _campaigns_by_key(keys: set[str]) -> dict[str, Campaign]:
    """UTM code first (exact, then case-insensitive), then exact name; a name shared by two campaigns is
    ambiguous and left out."""
    found: dict[str, Campaign] = {}
    if not keys:
        return found
    lowered = {k.lower() for k in keys}
    candidates = list(
        Campaign.objects.filter(Q(utm_campaign__in=keys) | Q(name__in=keys) | Q(utm_campaign__in=lowered))
    )
    by_code = {c.utm_campaign.lower(): c for c in candidates if c.utm_campaign}
    by_name: dict[str, list[Campaign]] = {}
    for c in candidates:
        by_name.setdefault(c.name, []).append(c)
    for key in keys:
        campaign = by_code.get(key.lower())
        if campaign is None and len(by_name.get(key, [])) == 1:
            campaign = by_name[key][0]
        if campaign is not None:
            found[key] = campaign
    return found


@dataclass
class _Sheet:
    """The file's data rows (line number, cells) and where each known column is."""

    mapping: dict[str, int]
    rows: list[tuple[int, list[str]]]

    def cell(self, cells: list[str], name: str) -> str:
        index = self.mapping.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""


def costs_import(*, content: bytes) -> CostImportResult:
    """Read the file and store its good rows (one transaction, two queries plus one insert)."""
    text, encoding = decode(content)
    result = CostImportResult(encoding=encoding)
    sheet = _read_sheet(text)
    result.rows = len(sheet.rows)
    parsed = _parse_rows(sheet, result)
    with transaction.atomic():
        _store(parsed, result)
    return result


def _read_sheet(text: str) -> _Sheet:
    """Split the text into rows (the delimiter guessed from the first line), find the columns by the header;
    a file without rows, without a needed column or with too many rows is refused (CostFileError)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first_line = next((line for line in text.split("\n", 50) if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
        else:
            rows.append((reader.line_num, cells))
    if header is None:
        raise CostFileError(_("The file is empty."))
    mapping = _column_mapping(header)
    if len(rows) > MAX_ROWS:
        raise CostFileError(_("At most %(n)s rows per file.") % {"n": f"{MAX_ROWS:,}"})
    return _Sheet(mapping=mapping, rows=rows)


def _column_mapping(header: list[str]) -> dict[str, int]:
    """Each known column's index (the first header that names it); the date, campaign and amount are needed."""
    mapping: dict[str, int] = {}
    for index, name in enumerate(header):
        target = HEADER_MAP.get(_norm(name))
        if target and target not in mapping:
            mapping[target] = index
    missing = [name for name in ("date", "campaign", "amount") if name not in mapping]
    if missing:
        labels = {"date": _("date"), "campaign": _("campaign (UTM code or name)"), "amount": _("amount")}
        raise CostFileError(
            _(
                "No column for: %(columns)s. The first row must name the columns (e.g. 日付, キャンペーン, 金額)."
            )
            % {"columns": ", ".join(str(labels[m]) for m in missing)}
        )
    return mapping


def _parse_rows(sheet: _Sheet, result: CostImportResult) -> list[CampaignCost]:
    """The good rows as unsaved costs; each bad row is reported in `result` with its line and reason."""
    campaigns = _campaigns_by_key({sheet.cell(cells, "campaign") for _line, cells in sheet.rows} - {""})
    parsed: list[CampaignCost] = []
    seen: dict[str, int] = {}
    for line, cells in sheet.rows:
        try:
            campaign, date, amount = _parse_row(sheet, cells, campaigns)
        except ValueError as exc:
            result.errors.append(RowError(line=line, reason=str(exc)))
            continue
        description = sheet.cell(cells, "description")[:200]
        external_id = sheet.cell(cells, "external_id")[:100] or _fingerprint(
            f"{date.isoformat()}|{campaign.pk}|{amount}|{description}", seen
        )
        parsed.append(
            CampaignCost(
                campaign=campaign,
                date=date,
                amount=amount,
                description=description or _("Imported from CSV"),
                external_id=external_id,
            )
        )
    return parsed


def _parse_row(
    sheet: _Sheet, cells: list[str], campaigns: dict[str, Campaign]
) -> tuple[Campaign, dt.date, Decimal]:
    """A row's campaign, date and amount, or ValueError saying what is wrong with it."""
    if any("\ufffd" in c for c in cells):
        raise ValueError(_("the row contains characters that are not valid in the file's encoding"))
    key = sheet.cell(cells, "campaign")
    if not key:
        raise ValueError(_("the campaign is empty"))
    campaign = campaigns.get(key)
    if campaign is None:
        raise ValueError(_("no campaign has the UTM code or name “%(key)s”") % {"key": key})
    return campaign, parse_date(sheet.cell(cells, "date")), parse_amount(sheet.cell(cells, "amount"))


def _fingerprint(fingerprint: str, seen: dict[str, int]) -> str:
    """The external id of a row without one: its fingerprint and its occurrence number in the file."""
    seen[fingerprint] = seen.get(fingerprint, 0) + 1
    digest = hashlib.sha256(f"{fingerprint}|{seen[fingerprint]}".encode()).hexdigest()[:40]
    return f"csv:{digest}"


def _store(parsed: list[CampaignCost], result: CostImportResult) -> None:
    """Insert the costs not stored before (by campaign and external id); count the others as duplicates."""
    unique: dict[tuple[int, str], CampaignCost] = {}
    for cost in parsed:
        if (cost.campaign_id, cost.external_id) in unique:
            result.duplicates += 1  # the same row id twice in one file
        else:
            unique[(cost.campaign_id, cost.external_id)] = cost
    external_ids = sorted({e for _c, e in unique})
    existing: set[tuple[int, str]] = set()
    for start in range(0, len(external_ids), 5000):
        existing.update(
            CampaignCost.objects.filter(external_id__in=external_ids[start : start + 5000])
            .order_by()
            .values_list("campaign_id", "external_id")
        )
    new = [cost for key, cost in unique.items() if key not in existing]
    result.duplicates += len(unique) - len(new)
    CampaignCost.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    result.created = len(new)
    result.total_amount = sum((cost.amount for cost in new), Decimal(0))
