"""Reads for duplicates and merge: the duplicates queue, computed in SQL by self-joins on the normalised keys
the rows carry (indexed; leads.records.normalize), scored, without the pairs a person dismissed, one page at a
time; and the two records of a merge screen, each checked against the viewer.

A pair's score is the sum of its signals (capped at 100):

- leads: the same mailbox (email_key: case, '+tag' and Gmail's dots ignored) 60; the same phone digits 40; the
  same name at the same company (its normalised name, or the same work-email domain) 40; the same kana reading
  at the same company 30;
- companies: the same normalised name (NFKC, 株式会社 / (株) / ㈱ … removed) 60; a shared domain (a company's own,
  or the work-email domain of one of its leads; free mail never counts) 50. Two different 法人番号 say two legal
  entities: such a pair is never proposed. The same 法人番号 twice cannot happen (a unique constraint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.utils.translation import gettext_lazy as _

from leads.models import Company, DuplicateDismissal, Lead, RecordKind
from leads.records.selectors import companies_visible_to, contacts_count
from salesmarketing.models import User

PAGE_SIZE = 25
MAX_SCORE = 100

LEAD_SIGNALS = {
    1: _("Same email"),
    2: _("Same phone"),
    4: _("Same name and company"),
    8: _("Same kana and company"),
}
COMPANY_SIGNALS = {1: _("Same name"), 2: _("Same domain")}


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _lead_pairs_sql() -> str:
    lead, company = _q(Lead._meta.db_table), _q(Company._meta.db_table)
    live = "a.merged_into_id IS NULL AND b.merged_into_id IS NULL"
    # The same company: the same normalised company name, or the same work-email domain.
    same_company = "((ca.name_key <> '' AND ca.name_key = cb.name_key) OR (a.work_domain <> '' AND a.work_domain = b.work_domain))"
    companies = (
        f"LEFT JOIN {company} ca ON ca.id = a.company_id LEFT JOIN {company} cb ON cb.id = b.company_id"
    )
    return f"""
        SELECT a.id AS low_id, b.id AS high_id, 60 AS w, 1 AS bit FROM {lead} a
        JOIN {lead} b ON b.email_key = a.email_key AND b.id > a.id WHERE a.email_key <> '' AND {live}
        UNION ALL
        SELECT a.id, b.id, 40, 2 FROM {lead} a
        JOIN {lead} b ON b.phone_key = a.phone_key AND b.id > a.id WHERE a.phone_key <> '' AND {live}
        UNION ALL
        SELECT a.id, b.id, 40, 4 FROM {lead} a
        JOIN {lead} b ON b.name_key = a.name_key AND b.id > a.id {companies}
        WHERE a.name_key <> '' AND {live} AND {same_company}
        UNION ALL
        SELECT a.id, b.id, 30, 8 FROM {lead} a
        JOIN {lead} b ON b.kana_key = a.kana_key AND b.id > a.id {companies}
        WHERE a.kana_key <> '' AND {live} AND {same_company}
    """


def _company_pairs_sql() -> tuple[str, str]:
    lead, company = _q(Lead._meta.db_table), _q(Company._meta.db_table)
    return (
        f"""
        SELECT a.id AS low_id, b.id AS high_id, 60 AS w, 1 AS bit FROM {company} a
        JOIN {company} b ON b.name_key = a.name_key AND b.id > a.id
        WHERE a.name_key <> '' AND a.merged_into_id IS NULL AND b.merged_into_id IS NULL
        UNION ALL
        SELECT a.company_id, b.company_id, 50, 2 FROM domains a
        JOIN domains b ON b.domain = a.domain AND b.company_id > a.company_id
    """,
        f"""
        domains AS (
            SELECT id AS company_id, LOWER(domain) AS domain FROM {company}
            WHERE domain <> '' AND merged_into_id IS NULL
            UNION
            SELECT company_id, work_domain FROM {lead}
            WHERE work_domain <> '' AND company_id IS NOT NULL AND merged_into_id IS NULL
        ),""",
    )


def _scored_sql(kind: str) -> str:
    """One row per candidate pair: low_id, high_id, score, reasons (a bit per signal)."""
    dismissal = _q(DuplicateDismissal._meta.db_table)
    veto = ""
    if kind == RecordKind.LEAD:
        pairs, ctes = _lead_pairs_sql(), ""
    else:
        pairs, ctes = _company_pairs_sql()
        company = _q(Company._meta.db_table)
        # Two different 法人番号 are two legal entities, whatever their names say; a merged one is gone.
        veto = f"""AND NOT EXISTS (
            SELECT 1 FROM {company} ca JOIN {company} cb ON cb.id = p.high_id
            WHERE ca.id = p.low_id AND (cb.merged_into_id IS NOT NULL OR ca.merged_into_id IS NOT NULL
                OR (ca.corporate_number <> '' AND cb.corporate_number <> ''
                    AND ca.corporate_number <> cb.corporate_number)))"""
    return f"""
        WITH {ctes} pairs AS ({pairs})
        SELECT p.low_id, p.high_id,
               CASE WHEN SUM(p.w) > {MAX_SCORE} THEN {MAX_SCORE} ELSE SUM(p.w) END AS score, SUM(p.bit) AS reasons
        FROM pairs p
        WHERE NOT EXISTS (
            SELECT 1 FROM {dismissal} d WHERE d.kind = %s AND d.low_id = p.low_id AND d.high_id = p.high_id
        ) {veto}
        GROUP BY p.low_id, p.high_id
    """


@dataclass
class Pair:
    low_id: int
    high_id: int
    score: int
    reasons: list[Any]
    low: Any = None
    high: Any = None


class _PairQuery:
    """The candidate pairs as the Paginator reads them: a COUNT, and one page's rows (LIMIT/OFFSET) in SQL."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sql = _scored_sql(kind)
        self.signals = LEAD_SIGNALS if kind == RecordKind.LEAD else COMPANY_SIGNALS

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({self.sql}) c", [self.kind])
            return cursor.fetchone()[0]

    def __getitem__(self, window: slice) -> list[Pair]:
        start, stop = window.start or 0, window.stop
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT * FROM ({self.sql}) c ORDER BY score DESC, low_id, high_id LIMIT %s OFFSET %s",
                [self.kind, stop - start, start],
            )
            rows = cursor.fetchall()
        return [
            Pair(low, high, int(score), [name for bit, name in self.signals.items() if int(reasons) & bit])
            for low, high, score, reasons in rows
        ]


def duplicates_queue(*, kind: str, page_number: int | str = 1) -> Page:
    """One page of candidate pairs of `kind`, best first, each with both records (three queries)."""
    page: Page = Paginator(_PairQuery(kind), PAGE_SIZE).get_page(page_number)  # type: ignore[arg-type]
    pairs: list[Pair] = list(page.object_list)
    ids = {pk for pair in pairs for pk in (pair.low_id, pair.high_id)}
    if kind == RecordKind.LEAD:
        records = Lead.objects.select_related("company", "owner").in_bulk(ids)
    else:
        records = Company.objects.annotate(contacts=contacts_count()).in_bulk(ids)
    for pair in pairs:
        pair.low, pair.high = records.get(pair.low_id), records.get(pair.high_id)
    page.object_list = [pair for pair in pairs if pair.low is not None and pair.high is not None]
    return page


def can_use_queue(user: User) -> bool:
    """The duplicates queue is for managers, marketing and admins (it spans every team's records)."""
    return user.is_superuser or user.role != User.Role.SALES


def leads_for_merge(*, viewer, first_id: int, second_id: int) -> tuple[Lead, Lead] | None:
    """Both leads, if the viewer sees both (None: the page answers 404)."""
    found = (
        Lead.objects.visible_to(viewer)
        .select_related("company", "owner", "persona")
        .in_bulk([first_id, second_id])
    )
    if first_id == second_id or len(found) != 2:
        return None
    return found[first_id], found[second_id]


def companies_for_merge(*, viewer, first_id: int, second_id: int) -> tuple[Company, Company] | None:
    found = (
        companies_visible_to(viewer)
        .select_related("parent", "owner")
        .annotate(contacts=contacts_count())
        .in_bulk([first_id, second_id])
    )
    if first_id == second_id or len(found) != 2:
        return None
    return found[first_id], found[second_id]


def lead_survivor_of(*, viewer, pk: int) -> Lead | None:
    """The survivor a merged lead's id points at, if the viewer sees it."""
    survivor_id = Lead.all_objects.filter(pk=pk).values_list("merged_into_id", flat=True).first()
    return Lead.objects.visible_to(viewer).filter(pk=survivor_id).first() if survivor_id else None


def company_survivor_of(*, viewer, pk: int) -> Company | None:
    survivor_id = Company.all_objects.filter(pk=pk).values_list("merged_into_id", flat=True).first()
    return companies_visible_to(viewer).filter(pk=survivor_id).first() if survivor_id else None
