"""Matching Japanese company names and domains: NFKC (full- and half-width folded), legal-form words removed
(株式会社, (株), ㈱, 有限会社, 合同会社…), spaces and case ignored; a company's domain from a work email only."""

from __future__ import annotations

import re
import unicodedata

# NFKC turns ㈱ into (株) and full-width parentheses into ASCII ones, so the list needs only the folded forms.
LEGAL_FORMS = (
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "一般社団法人",
    "一般財団法人",
    "(株)",
    "(有)",
    "(同)",
)
_SPACES = re.compile(r"[\s\u3000・.,]+")
FREE_MAIL_DOMAINS = frozenset(
    "gmail.com yahoo.co.jp ymail.ne.jp outlook.com outlook.jp hotmail.com hotmail.co.jp icloud.com me.com "
    "docomo.ne.jp ezweb.ne.jp softbank.ne.jp au.com i.softbank.jp nifty.com biglobe.ne.jp".split()
)


def company_name_key(name: str) -> str:
    """The form of a company name two spellings of one company share: '（株）監査テスト' and '株式会社 監査テスト'
    both give '監査テスト'."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    for form in LEGAL_FORMS:
        folded = folded.replace(form, "")
    return _SPACES.sub("", folded)


def work_domain(email: str) -> str:
    """The company domain an email tells, or "" for a free-mail address (anyone can have one)."""
    domain = email.rpartition("@")[2].strip().lower()
    return "" if not domain or domain in FREE_MAIL_DOMAINS else domain


# --- people: the keys the duplicates queue compares (leads.merge) -------------------------------------------

_NOT_DIGITS = re.compile(r"\D+")
_HIRAGANA = re.compile(r"[\u3041-\u3096]")
_FREE_MAIL_DOTLESS = frozenset({"gmail.com", "googlemail.com"})


def text_key(value: str) -> str:
    """A person's name as two spellings of it share: NFKC (full- and half-width folded), case and spaces
    ignored ('山田　太郎' and '山田 太郎' give '山田太郎')."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value).casefold())


def kana_key(value: str) -> str:
    """A reading in kana, compared whatever the script: half-width katakana and hiragana fold to full-width
    katakana ('ﾔﾏﾀﾞ ﾀﾛｳ', 'やまだ たろう' and 'ヤマダタロウ' give 'ヤマダタロウ')."""
    folded = text_key(value)
    return _HIRAGANA.sub(lambda m: chr(ord(m.group()) + 0x60), folded)


def phone_key(value: str) -> str:
    """The digits of a phone number ('03-1234-5678', '０３（１２３４）５６７８' give '0312345678'); a leading
    +81 becomes the domestic 0. Fewer than 6 digits is no number."""
    digits = _NOT_DIGITS.sub("", unicodedata.normalize("NFKC", value))
    if value.strip().startswith("+81") and digits.startswith("81"):
        digits = "0" + digits[2:]
    return digits if len(digits) >= 6 else ""


def email_key(value: str) -> str:
    """An address as the mailbox it reaches: lower case, '+tag' dropped, and the dots Gmail ignores
    ('Taro.Yamada+news@gmail.com' gives 'taroyamada@gmail.com')."""
    local, _at, domain = unicodedata.normalize("NFKC", value).strip().lower().rpartition("@")
    if not local:
        return ""
    local = local.split("+", 1)[0]
    if domain in _FREE_MAIL_DOTLESS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"
