"""Reading an uploaded CSV file: its encoding, delimiter, header and rows, and which column is which field."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models.custom_fields import CustomObject, FieldDefinition

PREVIEW_ROWS = 5
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-16": "UTF-16",
    "cp932": "Shift_JIS (CP932)",
}

EXTRA = "extra"  # keep the column on the touch (properties)
IGNORE = "ignore"  # drop the column
TARGET_FIELDS: list[tuple[str, Any]] = [
    ("email", gettext_lazy("Email")),
    ("name", gettext_lazy("Name")),
    ("last_name", gettext_lazy("Last name")),
    ("first_name", gettext_lazy("First name")),
    ("name_kana", gettext_lazy("Name (kana)")),
    ("last_name_kana", gettext_lazy("Last name (kana)")),
    ("first_name_kana", gettext_lazy("First name (kana)")),
    ("company", gettext_lazy("Company")),
    ("company_domain", gettext_lazy("Company website / domain")),
    ("title", gettext_lazy("Job title")),
    ("department", gettext_lazy("Department")),
    ("phone", gettext_lazy("Phone")),
    ("industry", gettext_lazy("Industry")),
    ("employee_count", gettext_lazy("Employees")),
    ("prefecture", gettext_lazy("Prefecture")),
    ("consent_email", gettext_lazy("Agrees to email")),
    ("occurred_at", gettext_lazy("Date")),
    ("utm_campaign", gettext_lazy("UTM campaign")),
    (EXTRA, gettext_lazy("Keep as extra information")),
    (IGNORE, gettext_lazy("Ignore")),
]
TARGETS = {name for name, _label in TARGET_FIELDS}
CUSTOM_PREFIX = "custom."  # a lead custom field's target: "custom.<key>"


@dataclass(frozen=True)
class CustomTarget:
    """A lead custom field as a column's target: "custom.<key>", its label, and the headers that name it."""

    target: str
    label: str
    words: tuple[str, ...]


def custom_targets() -> list[CustomTarget]:
    """The leads' live custom fields, which the mapping offers (one query)."""
    return [
        CustomTarget(CUSTOM_PREFIX + d.key, d.label, (d.key, d.label_ja, d.label_en))
        for d in FieldDefinition.objects.live().of(CustomObject.LEAD).order_by("position", "pk")
    ]


def target_choices(custom: list[CustomTarget]) -> list[tuple[str, Any]]:
    """The mapping's choices: the built-in fields, the custom fields, then "keep as extra" and "ignore"."""
    return [*TARGET_FIELDS[:-2], *((c.target, c.label) for c in custom), *TARGET_FIELDS[-2:]]


def _custom_header_map(custom: list[CustomTarget]) -> dict[str, str]:
    """A header naming a custom field by its key or either label maps to it."""
    found: dict[str, str] = {}
    for item in custom:
        for word in item.words:
            if word:
                found.setdefault(_normalize_header(word), item.target)
    return found


_SYNONYMS = {
    "email": "email emailaddress mail mailaddress メールアドレス メール eメール eメールアドレス 電子メール "
    "電子メールアドレス メアド pcメールアドレス 会社メールアドレス",
    "name": "name fullname contactname 氏名 名前 お名前 氏名漢字 お名前漢字 担当者名 担当者 参加者名 来場者名 ご氏名",
    "last_name": "lastname surname familyname 姓 苗字 名字 氏 姓漢字",
    "first_name": "firstname givenname 名 名漢字 下の名前",
    "name_kana": "namekana kana フリガナ ふりがな カナ よみがな 読み仮名 氏名カナ 氏名フリガナ 氏名ふりがな お名前カナ "
    "お名前フリガナ 氏名よみがな",
    "last_name_kana": "セイ 姓カナ 姓フリガナ 姓ふりがな",
    "first_name_kana": "メイ 名カナ 名フリガナ 名ふりがな",
    "company": "company companyname organization organisation account 会社名 企業名 社名 会社 法人名 所属 勤務先 "
    "団体名 貴社名 御社名 所属先 会社名称",
    "company_domain": "domain companydomain website web url homepage hp ドメイン ホームページ webサイト "
    "ウェブサイト 会社url 企業url 会社ホームページ",
    "title": "title jobtitle position role 役職 役職名 肩書 肩書き 職位",
    "department": "department dept division 部署 部署名 所属部署 部門 部課 部課名 所属部門",
    "phone": "phone tel telephone phonenumber mobile 電話番号 電話 携帯電話 携帯 携帯番号 tel番号 連絡先 "
    "連絡先電話番号 会社電話番号 電話番号会社 代表電話",
    "industry": "industry 業種 業界 業種名",
    "employee_count": "employees employeecount numberofemployees companysize headcount 従業員数 社員数 "
    "従業員規模 企業規模 従業員",
    "prefecture": "prefecture state 都道府県 所在地都道府県 会社所在地都道府県 都道府県名 所在都道府県",
    "consent_email": "consent optin emailoptin newsletter メール配信 メルマガ メルマガ配信 メール配信希望 配信同意 "
    "メール配信可否 情報提供の可否 案内メール メールマガジン メール案内 案内送付",
    "occurred_at": "date datetime timestamp 日時 日付 来場日 来場日時 登録日 登録日時 受付日 受付日時 参加日 "
    "申込日 申込日時 回答日時 取得日",
    "utm_campaign": "utmcampaign campaign キャンペーン 施策",
}
_BRACKETS = str.maketrans("", "", " \t_-・･()（）[]［］【】「」<>＜＞:：/／.")


def _normalize_header(header: str) -> str:
    return unicodedata.normalize("NFKC", header).strip().lower().translate(_BRACKETS)


HEADER_MAP: dict[str, str] = {
    _normalize_header(word): target for target, words in _SYNONYMS.items() for word in words.split()
}


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, no header, no email column …)."""


@dataclass
class ParsedFile:
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line number of the row's first line, cells)
    invalid_bytes: bool  # some rows contain bytes invalid in the encoding (they fail alone)

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)


# --- Reading the file ---------------------------------------------------------------------------------


def _bad_lines(content: bytes, encoding: str) -> int:
    bad = 0
    for line in content.split(b"\n"):  # 0x0A never occurs inside a UTF-8 or Shift_JIS character
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad += 1
    return bad


def decode(content: bytes, encoding: str = "auto") -> tuple[str, str, bool]:
    """(text, encoding used, whether some bytes were invalid). Invalid bytes become U+FFFD, which marks the
    rows they are in as failed, so one damaged line does not lose the file."""
    if content.startswith(b"PK\x03\x04") or content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("This is an Excel workbook, not a CSV file. In Excel, save it as “CSV”."))
    if content.startswith(codecs.BOM_UTF8):
        text = content[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
        return text, "utf-8-sig", "\ufffd" in text and _bad_lines(content[3:], "utf-8") > 0
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = content.decode("utf-16", errors="replace")
        return text, "utf-16", "\ufffd" in text
    head = content[:4096]
    if head.count(b"\x00") > len(head) // 100:  # UTF-16 without a BOM, or not text at all
        raise ImportFileError(_("This file is not a text CSV file (it contains binary data)."))
    if encoding == "auto":
        try:
            return content.decode("utf-8"), "utf-8", False
        except UnicodeDecodeError:
            pass
        utf8_bad, sjis_bad = _bad_lines(content, "utf-8"), _bad_lines(content, "cp932")
        encoding = "utf-8" if utf8_bad <= sjis_bad else "cp932"
        lines = content.count(b"\n") + 1
        if min(utf8_bad, sjis_bad) * 2 > lines:  # mostly undecodable either way
            raise ImportFileError(
                _(
                    "This file is neither UTF-8 nor Shift_JIS text. Save it from Excel as “CSV UTF-8” and try again."
                )
            )
    elif encoding not in ("utf-8", "cp932"):
        raise ImportFileError(_("Unknown encoding: %(encoding)s") % {"encoding": encoding})
    try:
        return content.decode(encoding), encoding, False
    except UnicodeDecodeError:
        return content.decode(encoding, errors="replace"), encoding, True


def parse(content: bytes, encoding: str = "auto") -> ParsedFile:
    text, used, invalid = decode(content, encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first_line = next((line for line in text.split("\n", 20) if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the size limit: that row fails, the rest go on
            rows.append((previous_end + 1, [f"\x00csv-error: {exc}"]))
            previous_end = reader.line_num
            continue
        start, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if headers is None:
            headers = [cell.strip() for cell in cells]
            continue
        rows.append((start, cells))
    if not headers:
        raise ImportFileError(_("The file is empty: there is no header row."))
    return ParsedFile(encoding=used, delimiter=delimiter, headers=headers, rows=rows, invalid_bytes=invalid)


def guess_mapping(headers: list[str], custom: list[CustomTarget] | None = None) -> dict[int, str]:
    """Column index → target field, from the header names; each target is taken by its first column only. A
    header that is a custom field's key or label maps to it before the built-in synonyms."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    custom_headers = _custom_header_map(custom_targets() if custom is None else custom)
    for index, header in enumerate(headers):
        key = _normalize_header(header)
        target = custom_headers.get(key) or HEADER_MAP.get(key)
        if target is None and re.fullmatch(r"e?mail\d*", key):
            target = "email"
        if target is None or target in taken:
            mapping[index] = EXTRA if header.strip() else IGNORE
        else:
            mapping[index] = target
            taken.add(target)
    return mapping


def mapping_errors(mapping: dict[int, str]) -> list[str]:
    targets = [t for t in mapping.values() if t not in (EXTRA, IGNORE)]
    unknown = sorted({t for t in targets if t not in TARGETS and not t.startswith(CUSTOM_PREFIX)})
    if unknown:
        return [_("Unknown field: %(fields)s.") % {"fields": ", ".join(unknown)}]
    errors = []
    if "email" not in targets:
        errors.append(_("Choose the column with the email address."))
    duplicated = sorted({t for t in targets if targets.count(t) > 1})
    if duplicated:
        labels = dict(TARGET_FIELDS)
        errors.append(
            _("Each field can come from one column only: %(fields)s.")
            % {"fields": ", ".join(str(labels.get(t, t)) for t in duplicated)}
        )
    return errors


def preview_rows(parsed: ParsedFile, limit: int = PREVIEW_ROWS) -> list[list[str]]:
    width = len(parsed.headers)
    return [(cells + [""] * width)[:width] for _line, cells in parsed.rows[:limit]]
