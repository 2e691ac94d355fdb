"""The /leads/import/ page: upload → mapping preview → import → per-row report, with and without HTMX."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import ImportJob, Lead, ScoringRule, Touch
from leads.scoring.defaults import ensure_default_scoring
from tests.leads.factories import CampaignFactory

pytestmark = pytest.mark.django_db

CSV = (
    "メールアドレス,氏名,会社名,役職\r\n"
    "yamada@example.jp,山田 太郎,株式会社サンプル,部長\r\n"
    "bad-address,鈴木 一郎,株式会社ビー,課長\r\n"
    "sato@example.jp,佐藤 花子,株式会社シー,担当\r\n"
).encode("cp932")


def upload(client, content=CSV, name="expo.csv", **extra):
    return client.post(
        "/leads/import/", {"file": SimpleUploadedFile(name, content, "text/csv"), "encoding": "auto"}, **extra
    )


def mapping_post(job, **overrides):
    data = {f"col_{i}": target for i, target in enumerate(["email", "name", "company", "title"])}
    data.update({"touch_type": "trade_show_visit", "lead_source": "trade_show", "source_name": "EXPO 2026"})
    data.update(overrides)
    return data


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


def test_the_whole_flow_without_javascript(marketer_client, marketer):
    assert marketer_client.get("/leads/import/").status_code == 200

    response = upload(marketer_client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/leads/import/{job.pk}/"
    assert job.created_by == marketer and job.encoding == "cp932"

    page = marketer_client.get(f"/leads/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert "山田 太郎" in html and "Shift_JIS" in html  # the preview, decoded
    assert '<option value="email" selected>' in html  # メールアドレス matched automatically

    done = marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job))
    assert done.status_code == 302
    report = marketer_client.get(f"/leads/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-count="accepted">2<' in report and 'data-count="errors">1<' in report
    assert '<td class="num">3</td>' in report  # the bad row's line number
    assert Lead.objects.count() == 2 and Touch.objects.count() == 2


def test_with_htmx_each_step_swaps_in_place(marketer_client):
    response = upload(marketer_client, HTTP_HX_REQUEST="true")
    job = ImportJob.objects.get()
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="import-step"' in html and response["HX-Push-Url"] == f"/leads/import/{job.pk}/"

    run = marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job), HTTP_HX_REQUEST="true")
    assert run.status_code == 200 and "<html" not in run.content.decode()
    assert 'data-count="accepted">2<' in run.content.decode()


def test_a_campaign_can_be_chosen(marketer_client):
    campaign = CampaignFactory(utm_campaign="expo")
    upload(marketer_client)
    job = ImportJob.objects.get()
    marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job, campaign=str(campaign.pk)))
    assert set(Touch.objects.values_list("campaign", flat=True)) == {campaign.pk}


def test_running_twice_imports_once(marketer_client):
    upload(marketer_client)
    job = ImportJob.objects.get()
    marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job))
    again = marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job))
    assert again.status_code == 302
    job.refresh_from_db()
    assert job.accepted_count == 2 and Touch.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"PK\x03\x04 workbook", "list.xlsx", "Excel"),
        (b"", "empty.csv", ""),
        (bytes(range(128, 256)) * 40, "weird.csv", "UTF-8"),
    ],
)
def test_an_unreadable_file_is_a_400_with_the_reason(marketer_client, content, name, message):
    response = upload(marketer_client, content=content, name=name, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_mapping_without_email_is_refused_and_nothing_imported(marketer_client):
    upload(marketer_client)
    job = ImportJob.objects.get()
    response = marketer_client.post(
        f"/leads/import/{job.pk}/run", mapping_post(job, col_0="extra"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "email" in response.content.decode()
    assert not Touch.objects.exists()


def test_a_future_date_is_refused(marketer_client):
    upload(marketer_client)
    job = ImportJob.objects.get()
    response = marketer_client.post(
        f"/leads/import/{job.pk}/run", mapping_post(job, occurred_on="2999-01-01")
    )
    assert response.status_code == 400
    assert not Touch.objects.exists()


def test_sales_reps_cannot_import(client, owner):
    client.force_login(owner)
    assert client.get("/leads/import/").status_code == 403
    assert upload(client).status_code == 403


def test_a_marketer_cannot_see_another_marketers_import(client, marketer, manager):
    client.force_login(manager)
    upload(client)
    job = ImportJob.objects.get()
    client.force_login(marketer)
    assert client.get(f"/leads/import/{job.pk}/").status_code == 404
    assert client.post(f"/leads/import/{job.pk}/run", mapping_post(job)).status_code == 404


def test_the_upload_page_has_a_fixed_number_of_queries(
    marketer_client, marketer, django_assert_max_num_queries
):
    for n in range(3):
        upload(marketer_client, name=f"f{n}.csv")
    with django_assert_max_num_queries(8) as few:
        marketer_client.get("/leads/import/")
    for n in range(8):
        upload(marketer_client, name=f"g{n}.csv")
    with django_assert_max_num_queries(8) as many:
        marketer_client.get("/leads/import/")
    assert len(few) == len(many)


def test_rows_earn_no_engagement_points_unless_the_marketer_says_what_they_did(marketer_client):
    """A list says who people are, not what they did: the neutral type is the default, not a trade-show visit."""
    ensure_default_scoring()
    upload(marketer_client)
    job = ImportJob.objects.get()
    html = marketer_client.get(f"/leads/import/{job.pk}/").content.decode()
    assert '<option value="list_import" selected>' in html
    assert '<option value="trade_show_visit" selected>' not in html

    marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job, touch_type="list_import"))

    assert set(Touch.objects.values_list("type", flat=True)) == {"list_import"}
    rules = ScoringRule.objects.filter(kind="engagement", is_active=True)
    assert rules.filter(touch_type="trade_show_visit", points__gt=0).exists()  # what the old default earned
    assert not rules.filter(touch_type__in=["list_import", ""]).exists()


def test_the_report_shows_the_bad_value_and_the_failed_rows_come_back_in_shift_jis(marketer_client):
    upload(marketer_client)
    job = ImportJob.objects.get()
    marketer_client.post(f"/leads/import/{job.pk}/run", mapping_post(job))

    report = marketer_client.get(f"/leads/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<td class="import-value">bad-address</td>' in report
    assert f'href="/leads/import/{job.pk}/errors.csv"' in report

    download = marketer_client.get(f"/leads/import/{job.pk}/errors.csv")
    assert download.status_code == 200 and "expo-errors.csv" in download["Content-Disposition"]
    assert (
        download.content
        == "メールアドレス,氏名,会社名,役職\r\nbad-address,鈴木 一郎,株式会社ビー,課長\r\n".encode("cp932")
    )


def test_a_file_without_failed_rows_has_no_download(marketer_client):
    upload(marketer_client, content="メールアドレス,氏名\r\nok@example.jp,正常\r\n".encode())
    job = ImportJob.objects.get()
    marketer_client.post(
        f"/leads/import/{job.pk}/run",
        {"col_0": "email", "col_1": "name", "touch_type": "list_import", "lead_source": "import"},
    )
    job.refresh_from_db()
    assert job.error_count == 0
    assert marketer_client.get(f"/leads/import/{job.pk}/errors.csv").status_code == 404
