"""Importing campaign costs from an ad platform's CSV: encodings, bad rows, and no duplicates on re-import."""

from __future__ import annotations

import codecs
import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from campaigns.costs_import import CostFileError, costs_import
from campaigns.models import CampaignCost
from tests.leads.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Row errors are translated; these tests read them in English."""
    with translation.override("en"):
        yield


SHEET = """日付,キャンペーン,金額,明細ID,摘要
2026/04/01,search-ads,"￥120,000",G-0401,検索広告 4月分
2026年4月2日,SNS広告 リード獲得,80000円,,
2026-04-03,no-such-campaign,1000,,
2026-13-01,search-ads,1000,,
2026-04-04,search-ads,abc,,
2026-04-05,search-ads,-5,,
2026-04-06,,1000,,
2026-04-07,SEARCH-ADS,"1,234.5",,半端
"""


@pytest.fixture
def campaigns():
    return (
        CampaignFactory(name="リスティング広告", utm_campaign="search-ads"),
        CampaignFactory(name="SNS広告 リード獲得", utm_campaign="sns-leadgen"),
    )


def test_good_rows_are_stored_and_bad_rows_reported_by_line(campaigns):
    search, sns = campaigns
    result = costs_import(content=SHEET.encode("utf-8"))

    assert (result.rows, result.created, result.duplicates) == (8, 3, 0)
    assert [(e.line, e.reason) for e in result.errors] == [
        (4, "no campaign has the UTM code or name “no-such-campaign”"),
        (5, "“2026-13-01” is not a date (use 2026-04-01)"),
        (6, "“abc” is not an amount"),
        (7, "the amount is negative"),
        (8, "the campaign is empty"),
    ]
    stored = {(c.campaign_id, c.date, c.amount, c.description) for c in CampaignCost.objects.all()}
    assert stored == {
        (search.pk, dt.date(2026, 4, 1), Decimal(120_000), "検索広告 4月分"),
        (sns.pk, dt.date(2026, 4, 2), Decimal(80_000), "Imported from CSV"),  # by name
        (search.pk, dt.date(2026, 4, 7), Decimal(1_235), "半端"),  # UTM code in any case; rounded half up
    }
    assert result.total_amount == Decimal(201_235)


def test_importing_the_same_file_again_adds_nothing(campaigns):
    costs_import(content=SHEET.encode("utf-8"))
    again = costs_import(content=SHEET.encode("utf-8"))
    assert (again.created, again.duplicates) == (0, 3)
    assert CampaignCost.objects.count() == 3


def test_identical_rows_without_an_id_are_both_kept(campaigns):
    sheet = "date,campaign,amount\n2026-04-01,search-ads,1000\n2026-04-01,search-ads,1000\n"
    assert costs_import(content=sheet.encode()).created == 2
    assert costs_import(content=sheet.encode()).created == 0
    assert CampaignCost.objects.count() == 2


@pytest.mark.parametrize(
    ("encoding", "label"),
    [("cp932", "Shift_JIS"), ("utf-8-sig", "UTF-8 (BOM)"), ("utf-16", "UTF-16"), ("utf-8", "UTF-8")],
)
def test_excel_encodings_are_read(campaigns, encoding, label):
    result = costs_import(content=SHEET.encode(encoding))
    assert result.encoding == label
    assert result.created == 3
    assert CampaignCost.objects.filter(description="検索広告 4月分").exists()


def test_google_ads_english_headers_and_tabs(campaigns):
    sheet = "Day\tCampaign\tCost\n2026-04-01\tsearch-ads\t1,000\n"
    assert costs_import(content=sheet.encode()).created == 1


def test_a_file_without_the_needed_columns_is_refused(campaigns):
    with pytest.raises(CostFileError, match="No column for"):
        costs_import(content="名前,メール\n山田,a@example.jp\n".encode())
    with pytest.raises(CostFileError):
        costs_import(content=b"")


def test_a_damaged_shift_jis_row_fails_alone(campaigns):
    good = "日付,キャンペーン,金額,摘要\n2026-04-01,search-ads,1000,検索\n".encode("cp932")
    bad = "2026-04-02,search-ads,2000,".encode("cp932") + b"\x82\xff\n"
    result = costs_import(content=good + bad)
    assert result.created == 1 and [e.line for e in result.errors] == [3]


def test_the_import_page_shows_the_report(client, marketer, campaigns):
    client.force_login(marketer)
    upload = SimpleUploadedFile("costs.csv", codecs.BOM_UTF8 + SHEET.encode("utf-8"), content_type="text/csv")
    html = client.post(
        "/campaigns/costs/import/", {"file": upload}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "cost lines added" in html and "¥201,235" in html
    assert "no campaign has the UTM code or name “no-such-campaign”" in html
