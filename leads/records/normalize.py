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
