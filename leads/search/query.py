"""What a typed search becomes: the spellings to look for (NFKC, hiragana and katakana folded) and, when it reads
as a phone or corporate number, its digits; plus the SQL expression that reduces a stored phone to its digits.

Matching is a case-insensitive substring match (`icontains`). On PostgreSQL the columns searched have trigram
(pg_trgm) GIN indexes on exactly the expression `icontains` compares, `UPPER(column::text)`, and the phone's on
`PhoneDigits` (leads/migrations/0020_search_trigram.py, pipeline/migrations/0008_search_trigram.py): a term of
three characters or more is found through them.

A trigram index cannot serve a shorter term, so one or two characters (田中, a family name; 林) match the start of
a name instead: a lead's name or kana and a company's name through their normalised match keys (NFKC, case and
spaces ignored, kana folded, a company's legal form dropped: 株式会社田中製作所 starts with 田中), a deal's name as
typed. btree indexes with pattern operator classes serve these prefixes (leads/migrations/0028_search_prefix.py,
pipeline/migrations/0012_search_prefix.py). SQLite compares the same way, without an index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import CharField, Func, Q, QuerySet

from leads.records.normalize import kana_key, text_key

MIN_LENGTH = 1  # one kanji is a family name (林, 森): matched as a prefix, through an index
TRIGRAM = 3  # pg_trgm's unit: a shorter term cannot use the trigram indexes, so it matches names' starts
MAX_LENGTH = 100
MIN_DIGITS = 3
# What people put between the digits of a phone number (after NFKC: full-width forms are folded already).
_PHONE_CHARS = re.compile(r"^[0-9\s\-+().‐‑‒–—―−ー]+$")
_HIRAGANA = (0x3041, 0x3096)  # ぁ..ゖ; katakana is the same letters 0x60 higher
_KATAKANA = (0x30A1, 0x30F6)


def to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if _HIRAGANA[0] <= ord(c) <= _HIRAGANA[1] else c for c in text)


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if _KATAKANA[0] <= ord(c) <= _KATAKANA[1] else c for c in text)


@dataclass(frozen=True)
class Terms:
    """A search as typed (`text`, trimmed and cut to MAX_LENGTH) and what it is matched as."""

    text: str
    variants: tuple[str, ...]  # the spellings a stored value may contain: as typed, NFKC, katakana, hiragana
    digits: str  # the digits, when the text reads as a phone or corporate number (03-1234-5678, ０３１２３４)

    @classmethod
    def parse(cls, raw: str | None) -> Terms:
        text = " ".join((raw or "").split())[:MAX_LENGTH]
        folded = unicodedata.normalize("NFKC", text)
        variants = tuple(
            dict.fromkeys(v for v in (text, folded, to_katakana(folded), to_hiragana(folded)) if v)
        )
        digits = re.sub(r"\D", "", folded) if _PHONE_CHARS.match(folded) else ""
        return cls(text=text, variants=variants, digits=digits if len(digits) >= MIN_DIGITS else "")

    @property
    def searchable(self) -> bool:
        return len(self.text) >= MIN_LENGTH

    @property
    def short(self) -> bool:
        """Too short for a trigram (once folded: ﾊﾞ is one character, バ): matched as the start of a name
        (`starts`, `keys_start`)."""
        return len(unicodedata.normalize("NFKC", self.text)) < TRIGRAM

    def contains(self, *fields: str) -> Q:
        """Any of `fields` contains any spelling of the search (case-insensitive)."""
        return reduce(or_, (Q(**{f"{field}__icontains": v}) for field in fields for v in self.variants))

    def starts(self, *fields: str) -> Q:
        """Any of `fields` starts with any spelling of the search (case-insensitive)."""
        return reduce(or_, (Q(**{f"{field}__istartswith": v}) for field in fields for v in self.variants))

    def keys_start(self, *fields: str) -> Q:
        """Any of the match-key `fields` (leads.records.normalize: text_key, kana_key, company_name_key) starts
        with the search as a key: spaces and case ignored, as typed and in katakana."""
        prefixes = dict.fromkeys(p for p in (text_key(self.text), kana_key(self.text)) if p)
        return reduce(
            or_, (Q(**{f"{field}__startswith": p}) for field in fields for p in prefixes), Q(pk__in=[])
        )


# Full-width digits and the usual separators a stored phone may hold; SQLite has no regexp_replace.
_FULL_WIDTH_DIGITS = "０１２３４５６７８９"
_SEPARATORS = ("-", " ", "(", ")", "+", ".", "‐", "−", "ー", "－", "（", "）", "　", "＋")


class PhoneDigits(Func):
    """A phone column reduced to its ASCII digits ('03-1234-5678' and '０３（１２３４）５６７８' → '0312345678').

    The PostgreSQL form is the expression the trigram index leads_lead_phone_digits_trgm is built on: change one,
    change the other (a migration), or the index stops being used."""

    output_field = CharField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=(
                f"regexp_replace(translate(%(expressions)s, '{_FULL_WIDTH_DIGITS}', '0123456789'), "
                "'[^0-9]', '', 'g')"
            ),
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        for n, digit in enumerate(_FULL_WIDTH_DIGITS):
            sql = f"REPLACE({sql}, '{digit}', '{n}')"
        for separator in _SEPARATORS:
            sql = f"REPLACE({sql}, '{separator}', '')"
        return sql, params


def leads_matching(leads: QuerySet, terms: Terms, *, company: bool = False) -> QuerySet:
    """The leads whose name, kana or email (or, with `company`, their company's name) hold the search, or whose
    phone holds its digits; for a short search, those whose name or kana (or company's name) start with it."""
    if terms.short:
        return leads.filter(
            terms.keys_start("name_key", "kana_key", *(["company__name_key"] if company else []))
        )
    condition = terms.contains("name", "name_kana", "email", *(["company__name"] if company else []))
    if terms.digits:
        condition |= Q(phone_digits__contains=terms.digits)
    return leads.alias(phone_digits=PhoneDigits("phone")).filter(condition)


def companies_matching(companies: QuerySet, terms: Terms) -> QuerySet:
    """The companies whose name, kana or domain hold the search, or whose corporate number holds its digits; for a
    short search, those whose name (its legal form dropped) starts with it."""
    if terms.short:
        return companies.filter(terms.keys_start("name_key"))
    condition = terms.contains("name", "name_kana", "domain")
    if terms.digits:
        # icontains, not contains: the trigram index is on UPPER(corporate_number), as on every searched text
        condition |= Q(corporate_number__icontains=terms.digits)
    return companies.filter(condition)
