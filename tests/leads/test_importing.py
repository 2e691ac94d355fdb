"""CSV import: encodings, header matching, per-row errors with line numbers, idempotent re-imports, speed,
and `manage.py import_leads`."""

from __future__ import annotations

import codecs

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from leads.importing import (
    EXTRA,
    ImportFileError,
    guess_mapping,
    import_job_create,
    import_job_run,
    parse,
)
from leads.models import Company, ImportJob, Lead, Touch
from tests.leads.factories import CampaignFactory

pytestmark = pytest.mark.django_db

HEADER = "メールアドレス,氏名,フリガナ,会社名,役職,電話番号,部署,業種,従業員数,都道府県,備考"
ROWS = [
    'yamada@example.jp,山田 太郎,ヤマダ タロウ,株式会社サンプル,部長,03-1234-5678,情報システム部,製造業,"1,200名",東京都,名刺交換',
    "suzuki@example.jp,鈴木 一郎,スズキ イチロウ,株式会社ビー,課長,06-0000-0000,営業部,IT,50,大阪府,",
]


@pytest.fixture(autouse=True)
def _english():
    """These tests read the reasons in the report, which are written in the active language."""
    with translation.override("en"):
        yield


def csv_bytes(rows=ROWS, header=HEADER, encoding="utf-8", newline="\r\n") -> bytes:
    return (newline.join([header, *rows]) + newline).encode(encoding)


def run(content: bytes, *, file_name="list.csv", encoding="auto", **options) -> ImportJob:
    job = import_job_create(content=content, file_name=file_name, encoding=encoding)
    mapping = {int(k): v for k, v in job.mapping.items()}
    return import_job_run(
        job=job,
        mapping=mapping,
        touch_type=options.pop("touch_type", "trade_show_visit"),
        lead_source=options.pop("lead_source", "trade_show"),
        **options,
    )


# --- Encodings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (csv_bytes(), "utf-8"),
        (codecs.BOM_UTF8 + csv_bytes(), "utf-8-sig"),
        (csv_bytes(encoding="cp932"), "cp932"),
        (csv_bytes(encoding="utf-16"), "utf-16"),  # Excel's "Unicode text" (with BOM)
        (csv_bytes(newline="\n"), "utf-8"),
        (csv_bytes(newline="\r"), "utf-8"),
    ],
)
def test_every_excel_encoding_is_detected_and_imported(content, encoding):
    job = run(content)
    assert job.encoding == encoding
    assert (job.accepted_count, job.error_count) == (2, 0)
    lead = Lead.objects.get(email="yamada@example.jp")
    assert (lead.name, lead.name_kana, lead.title, lead.phone, lead.department) == (
        "山田 太郎",
        "ヤマダ タロウ",
        "部長",
        "03-1234-5678",
        "情報システム部",
    )
    company = lead.company
    assert (company.name, company.industry, company.employee_count, company.prefecture, company.region) == (
        "株式会社サンプル",
        "manufacturing",
        1200,
        "東京都",
        "kanto",
    )
    touch = lead.touches.get()
    assert touch.type == "trade_show_visit" and touch.properties["columns"] == {"備考": "名刺交換"}


def test_cp932_only_characters_survive():
    rows = ["takahashi@example.jp,髙橋 ①郎,,㈱テスト,,,,,,,"]
    run(csv_bytes(rows, encoding="cp932"))
    lead = Lead.objects.get()
    assert lead.name == "髙橋 ①郎" and lead.company.name == "㈱テスト"


def test_bytes_invalid_in_the_declared_encoding_fail_only_their_row():
    content = (
        csv_bytes()
        + b"broken\x82@example.jp,\x82\xff,,,,,,,,,\r\n"
        + "ok@example.jp,正常,,,,,,,,,\r\n".encode()
    )
    job = run(content, encoding="utf-8")
    assert job.accepted_count == 3
    assert [(e["line"], "encoding" in e["reason"]) for e in job.errors] == [(4, True)]


def test_invalid_bytes_in_a_shift_jis_file_fail_only_their_row():
    content = csv_bytes(encoding="cp932") + b"bad@example.jp,\x81\x20\xff,,,,,,,,,\r\n"
    job = run(content)
    assert job.encoding == "cp932"
    assert job.accepted_count == 2 and [e["line"] for e in job.errors] == [4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"\x00\x01\x02\x03binary", "binary"),
        (b"", "empty"),
        (b"\r\n\r\n  \r\n", "empty"),
        (bytes(range(128, 256)) * 50, "neither UTF-8 nor Shift_JIS"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(content, message):
    with pytest.raises(ImportFileError, match=message):
        import_job_create(content=content, file_name="x.csv")
    assert not ImportJob.objects.exists()


# --- Columns --------------------------------------------------------------------------------------------


def test_japanese_and_english_headers_are_matched():
    headers = [
        "Eメールアドレス",
        "姓",
        "名",
        "セイ",
        "メイ",
        "貴社名",
        "役職名",
        "TEL",
        "部署名",
        "業種",
        "従業員数",
        "都道府県",
        "ホームページ",
        "メルマガ配信",
        "来場日時",
        "アンケート",
        "",
    ]
    mapping = guess_mapping(headers)
    assert [mapping[i] for i in range(len(headers))] == [
        "email", "last_name", "first_name", "last_name_kana", "first_name_kana", "company", "title", "phone",
        "department", "industry", "employee_count", "prefecture", "company_domain", "consent_email",
        "occurred_at", EXTRA, "ignore",
    ]  # fmt: skip
    assert guess_mapping(["E-mail", "Full Name", "Company Name", "Job Title"]) == {
        0: "email", 1: "name", 2: "company", 3: "title"
    }  # fmt: skip
    assert guess_mapping(["メールアドレス", "電話番号", "携帯電話"]) == {0: "email", 1: "phone", 2: EXTRA}


def test_split_names_dates_consent_and_websites_are_combined_and_read():
    header = "メールアドレス,姓,名,セイ,メイ,ホームページ,メルマガ配信,来場日時"
    rows = ["a@example.jp,佐藤,花子,サトウ,ハナコ,https://www.sato.co.jp/,希望する,2026/04/01 10:30"]
    run(csv_bytes(rows, header=header))
    lead = Lead.objects.get()
    assert (lead.name, lead.name_kana, lead.consent_email) == ("佐藤 花子", "サトウ ハナコ", True)
    assert lead.company.domain == "sato.co.jp"
    assert lead.touches.get().occurred_at.isoformat() == "2026-04-01T01:30:00+00:00"


# --- Row errors -----------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_never_stop_the_good_ones():
    header = "メールアドレス,氏名,会社名,来場日,従業員数"
    rows = [
        "good1@example.jp,良い 一,A社,2026/04/01,10",
        "not-an-email,悪い 二,B社,2026/04/01,",
        ",名無し,C社,,",
        '"multi@example.jp","複数行の\n名前",D社,2026/04/01,',  # a quoted field spanning two lines
        "baddate@example.jp,日付,E社,来週,",
        "toolong@example.jp," + "長" * 201 + ",F社,,",
        "extra@example.jp,余計,G社,,,余分な列",
        "",
        "good2@example.jp,良い 三,H社,,",
        "nul@example.jp,ヌル\x00文字,I社,,",
    ]
    job = run(csv_bytes(rows, header=header, newline="\n"))

    assert job.rows_total == 9  # the blank line is not a row
    assert job.accepted_count == 3
    lines = {e["line"]: e["reason"] for e in job.errors}
    assert set(lines) == {3, 4, 7, 8, 9, 12}
    assert "メール" in lines[3] or "email" in lines[3].lower()
    assert "No email" in lines[4] or "メール" in lines[4]
    assert "date" in lines[7].lower() or "日" in lines[7]
    assert "200" in lines[8]
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "good1@example.jp",
        "multi@example.jp",
        "good2@example.jp",
    }
    assert Lead.objects.get(email="multi@example.jp").name == "複数行の\n名前"


def test_a_file_without_an_email_column_cannot_be_run():
    job = import_job_create(content=csv_bytes(header="氏名,会社名", rows=["山田,A社"]), file_name="x.csv")
    with pytest.raises(ValueError, match="email"):
        import_job_run(
            job=job, mapping={0: "name", 1: "company"}, touch_type="form_submit", lead_source="import"
        )


# --- Idempotency ----------------------------------------------------------------------------------------


def test_importing_the_same_file_twice_creates_no_duplicates():
    first = run(csv_bytes(), source_name="EXPO 2026")
    counts = (Lead.objects.count(), Touch.objects.count(), Company.objects.count())
    second = run(csv_bytes(), source_name="EXPO 2026")

    assert (first.accepted_count, first.leads_created) == (2, 2)
    assert (second.accepted_count, second.duplicate_count, second.leads_created) == (0, 2, 0)
    assert (Lead.objects.count(), Touch.objects.count(), Company.objects.count()) == counts


def test_after_fixing_a_row_only_that_row_is_new():
    broken = ROWS + ["fixme-at-example.jp,直す 人,,,,,,,,,"]
    first = run(csv_bytes(broken))
    fixed = ROWS + ["fixme@example.jp,直す 人,,,,,,,,,"]
    second = run(csv_bytes(fixed))
    assert (first.accepted_count, first.error_count) == (2, 1)
    assert (second.accepted_count, second.duplicate_count, second.error_count) == (1, 2, 0)
    assert Touch.objects.count() == 3


def test_the_same_people_at_another_event_are_new_touches():
    run(csv_bytes(), source_name="EXPO 2026")
    again = run(csv_bytes(), source_name="EXPO 2027")
    assert again.accepted_count == 2 and Lead.objects.count() == 2 and Touch.objects.count() == 4


def test_a_campaign_and_date_are_applied_to_every_row():
    campaign = CampaignFactory(utm_campaign="expo-2026")
    import datetime as dt

    from django.utils import timezone

    when = timezone.make_aware(dt.datetime(2026, 4, 10, 12, 0))
    run(csv_bytes(), campaign=campaign, occurred_at=when)
    assert set(Touch.objects.values_list("campaign", flat=True)) == {campaign.pk}
    assert set(Touch.objects.values_list("occurred_at", flat=True)) == {when}
    assert Lead.objects.filter(first_touch_campaign=campaign).count() == 2


# --- Size -----------------------------------------------------------------------------------------------


def test_ten_thousand_rows_import_with_a_bounded_number_of_queries(django_assert_max_num_queries):
    """Query count is pinned here; the import's speed is measured by the bench (bench/), not asserted."""
    rows = [
        f"visitor{i}@expo{i % 300}.example.jp,来場者 {i},,株式会社展示{i % 300},{('部長', '課長', '担当')[i % 3]},,,製造,100,東京都,"
        for i in range(10_000)
    ]
    content = csv_bytes(rows, encoding="cp932")
    with django_assert_max_num_queries(250):  # ~20 per batch of 1,000 rows, whatever the row count
        job = run(content)

    assert (job.accepted_count, job.error_count, job.leads_created) == (10_000, 0, 10_000)
    assert Company.objects.count() == 300


# --- The command ----------------------------------------------------------------------------------------


def test_the_command_imports_and_lists_bad_rows(tmp_path, capsys):
    path = tmp_path / "expo.csv"
    path.write_bytes(csv_bytes([*ROWS, "broken-email,壊れた 人,,,,,,,,,"], encoding="cp932"))
    CampaignFactory(utm_campaign="expo")

    call_command(
        "import_leads", str(path), "--source-name", "EXPO", "--campaign", "expo", "--type", "seminar_attended"
    )

    out = capsys.readouterr().out
    assert "Shift_JIS" in out and "メールアドレス → email" in out
    assert "line 4:" in out
    assert "Imported 2 rows (2 new leads)" in out
    assert set(Touch.objects.values_list("type", flat=True)) == {"seminar_attended"}
    assert Touch.objects.filter(properties__source_name="EXPO").count() == 2

    call_command(
        "import_leads", str(path), "--source-name", "EXPO", "--campaign", "expo", "--type", "seminar_attended"
    )
    assert "Imported 0 rows (0 new leads); 2 already imported" in capsys.readouterr().out


def test_the_command_can_override_a_column(tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_bytes(csv_bytes(["x@example.jp,ゼット"], header="連絡用アドレス,お名前"))
    with pytest.raises(CommandError, match="email"):
        call_command("import_leads", str(path))
    call_command("import_leads", str(path), "--map", "連絡用アドレス=email")
    assert Lead.objects.get().name == "ゼット"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/file.csv"], "No such file"),
        (["{path}", "--campaign", "missing"], "UTM code"),
        (["{path}", "--date", "tomorrow"], "--date"),
        (["{path}", "--map", "nope=email"], "--map"),
    ],
)
def test_the_command_explains_bad_arguments(tmp_path, args, message):
    path = tmp_path / "ok.csv"
    path.write_bytes(csv_bytes())
    with pytest.raises(CommandError, match=message):
        call_command("import_leads", *[a.format(path=path) for a in args])
    assert not Touch.objects.exists()


def test_parse_reports_the_delimiter_and_keeps_row_line_numbers():
    parsed = parse("email\tname\r\na@example.jp\t甲\r\n\r\nb@example.jp\t乙\r\n".encode())
    assert parsed.delimiter == "\t"
    assert [line for line, _cells in parsed.rows] == [2, 4]
