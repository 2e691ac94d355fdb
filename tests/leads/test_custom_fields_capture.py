"""Custom fields filled from outside: CSV import columns, a web form's `custom.<key>` fields, events, and the
leads and companies API (round trip, 422 per field). The inquiry a web form sent shows on the handoff card."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation

from leads.custom_fields.services import field_definition_create
from leads.ingest import events_ingest
from leads.models import Company, CustomFieldType, CustomObject, ImportJob, Lead
from tests.leads.factories import FormEndpointFactory, LeadFactory, make_handoff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_cache")]


def define(key, field_type=CustomFieldType.TEXT, object_type=CustomObject.LEAD, **fields):
    fields.setdefault("label_ja", key)
    return field_definition_create(by=None, object_type=object_type, key=key, field_type=field_type, **fields)


@pytest.fixture
def fields():
    define("budget", CustomFieldType.NUMBER, label_ja="予算", label_en="Budget")
    define("timing", CustomFieldType.CHOICE, label_ja="導入時期", options=["今期", "来期"])
    define("hidden", in_api=False)


# --- CSV import ------------------------------------------------------------------------------------------


CSV = (
    "メールアドレス,氏名,予算,導入時期\r\n"
    "yamada@example.jp,山田 太郎,500万,今期\r\n"
    'sato@example.jp,佐藤 花子,"1,200,000",来期\r\n'
).encode("cp932")


def test_the_import_mapping_offers_the_custom_fields_and_matches_their_labels(client, marketer, fields):
    client.force_login(marketer)
    client.post(
        "/leads/import/", {"file": SimpleUploadedFile("list.csv", CSV, "text/csv"), "encoding": "auto"}
    )
    job = ImportJob.objects.get()
    assert job.mapping == {"0": "email", "1": "name", "2": "custom.budget", "3": "custom.timing"}
    page = client.get(f"/leads/import/{job.pk}/").content.decode()
    assert '<option value="custom.budget" selected>予算</option>' in page
    assert '<option value="custom.hidden">hidden</option>' in page


def test_imported_custom_values_are_checked_and_a_bad_one_fails_its_row_naming_the_field(
    client, marketer, fields
):
    client.force_login(marketer)
    client.post(
        "/leads/import/", {"file": SimpleUploadedFile("list.csv", CSV, "text/csv"), "encoding": "auto"}
    )
    job = ImportJob.objects.get()
    mapping = {"col_0": "email", "col_1": "name", "col_2": "custom.budget", "col_3": "custom.timing"}
    response = client.post(
        f"/leads/import/{job.pk}/run",
        {**mapping, "touch_type": "list_import", "lead_source": "import", "source_name": "名簿"},
    )
    assert response.status_code == 302
    job.refresh_from_db()
    sato = Lead.objects.get(email="sato@example.jp")
    assert sato.custom == {"budget": 1_200_000, "timing": "来期"}
    assert not Lead.objects.filter(email="yamada@example.jp").exists()  # "500万" is not a number
    (error,) = job.errors
    assert error["line"] == 2 and "budget" in error["reason"] and error["value"] == "500万"


def test_an_import_fills_custom_values_of_existing_leads_and_keeps_the_others(fields):
    lead = LeadFactory(email="known@example.jp", custom={"timing": "今期", "hidden": "x"})
    result = events_ingest(
        events=[
            {"id": "r1", "type": "list_import", "email": "known@example.jp", "custom": {"budget": "300"}}
        ],
        source="import",
        authenticated=True,
    )
    assert result.accepted == 1 and not result.rejected
    lead.refresh_from_db()
    assert lead.custom == {"timing": "今期", "hidden": "x", "budget": 300}


def test_the_command_maps_a_column_to_a_custom_field_and_reports_a_bad_value_by_line(
    tmp_path, capsys, fields
):
    path = tmp_path / "expo.csv"
    path.write_bytes(
        "メールアドレス,氏名,ご予算,時期\r\n"
        "yamada@example.jp,山田 太郎,500万,今期\r\n"
        'sato@example.jp,佐藤 花子,"1,200,000",来期\r\n'.encode("cp932")
    )
    call_command("import_leads", str(path), "--map", "ご予算=custom.budget", "--map", "時期=custom.timing")
    out = capsys.readouterr().out
    assert "ご予算 → custom.budget" in out and "時期 → custom.timing" in out
    assert "line 2:" in out and "budget" in out  # the same per-row error as the import page's
    assert "Imported 1 rows (1 new leads)" in out
    assert Lead.objects.get().custom == {"budget": 1_200_000, "timing": "来期"}
    with pytest.raises(CommandError, match="custom.nothing"):
        call_command("import_leads", str(path), "--map", "時期=custom.nothing")


def test_the_command_matches_a_custom_fields_label_by_itself(tmp_path, capsys, fields):
    path = tmp_path / "list.csv"
    path.write_bytes(CSV)
    call_command("import_leads", str(path))
    assert "予算 → custom.budget" in capsys.readouterr().out
    assert Lead.objects.get(email="sato@example.jp").custom == {"budget": 1_200_000, "timing": "来期"}


# --- Web forms ------------------------------------------------------------------------------------------


def test_a_web_form_fills_custom_fields_and_a_bad_value_loses_nobody(client, fields):
    FormEndpointFactory(
        site_key="contact", touch_type="demo_request", allowed_origins="https://www.customer.co.jp"
    )
    response = client.post(
        "/f/contact",
        {"email": "form@example.jp", "custom.timing": "来期", "custom.budget": "たくさん"},
        HTTP_ORIGIN="https://www.customer.co.jp",
    )
    assert response.status_code in (200, 303)  # the thank-you page, or the site's own
    lead = Lead.objects.get(email="form@example.jp")
    assert lead.custom == {"timing": "来期"}  # the bad budget is left out; the lead is kept
    assert lead.touches.get().properties["fields"]["custom.budget"] == "たくさん"


def test_a_public_form_only_fills_custom_values_a_lead_does_not_have(client, fields):
    FormEndpointFactory(
        site_key="contact", touch_type="demo_request", allowed_origins="https://www.customer.co.jp"
    )
    lead = LeadFactory(email="known@example.jp", custom={"timing": "今期"})
    client.post(
        "/f/contact",
        {"email": "known@example.jp", "custom.timing": "来期", "custom.budget": "100"},
        HTTP_ORIGIN="https://www.customer.co.jp",
    )
    lead.refresh_from_db()
    assert lead.custom == {"timing": "今期", "budget": 100}


def test_the_inquiry_a_form_sent_shows_on_the_handoff_card(client, owner):
    FormEndpointFactory(
        site_key="contact", touch_type="demo_request", allowed_origins="https://www.customer.co.jp"
    )
    client.post(
        "/f/contact",
        {"email": "ask@example.jp", "お問い合わせ内容": "来月から100名で使いたい。見積をください。"},
        HTTP_ORIGIN="https://www.customer.co.jp",
    )
    lead = Lead.objects.get(email="ask@example.jp")
    make_handoff(lead=lead, owner=owner)
    client.force_login(owner)
    page = client.get("/leads/handoffs/?show=decided").content.decode()
    assert "来月から100名で使いたい。見積をください。" in page


def test_events_from_a_key_are_rejected_for_a_bad_custom_value(fields):
    with translation.override("en"):
        result = events_ingest(
            events=[
                {"id": "e1", "type": "form_submit", "email": "a@example.jp", "custom": {"budget": "many"}},
                {"id": "e2", "type": "form_submit", "email": "b@example.jp", "custom": {"nope": 1}},
                {"id": "e3", "type": "form_submit", "email": "c@example.jp", "custom": {"timing": "今期"}},
            ],
            source="api:crm",
            authenticated=True,
        )
    assert [(r.index, r.errors) for r in result.rejected] == [
        (0, {"custom.budget": ["Enter a number."]}),
        (1, {"custom.nope": ["No custom field has this key."]}),
    ]
    assert Lead.objects.get(email="c@example.jp").custom == {"timing": "今期"}


# --- The API ----------------------------------------------------------------------------------------------


def test_the_lead_api_reads_and_writes_custom_values(api, fields):
    response = api.post(
        "/api/v1/leads", {"email": "api@example.jp", "custom": {"budget": 2500000, "timing": "今期"}}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["custom"] == {"budget": 2500000, "timing": "今期"}
    lead = Lead.objects.get(email="api@example.jp")
    Lead.objects.filter(pk=lead.pk).update(custom={**lead.custom, "hidden": "internal"})
    read = api.get(f"/api/v1/leads/{lead.pk}").json()
    assert read["custom"] == {"budget": 2500000, "timing": "今期"}  # "hidden" is not offered to the API
    listed = api.get("/api/v1/leads").json()["items"]
    assert listed[0]["custom"] == {"budget": 2500000, "timing": "今期"}
    updated = api.post("/api/v1/leads", {"email": "api@example.jp", "custom": {"budget": None}}).json()
    assert updated["custom"] == {"timing": "今期"}
    lead.refresh_from_db()
    assert lead.custom == {"timing": "今期", "hidden": "internal"}


def test_the_lead_api_answers_422_per_custom_field(api, fields):
    define("industry_code", required=True, label_ja="業種コード")
    response = api.post(
        "/api/v1/leads",
        {"email": "bad@example.jp", "custom": {"budget": "many", "timing": "再来期", "hidden": "x"}},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert errors[("body", "custom", "budget")] == "Enter a number."
    assert errors[("body", "custom", "timing")].startswith("Choose one of: 今期 / 来期.")
    assert errors[("body", "custom", "hidden")] == "No custom field has this key."
    assert errors[("body", "custom", "industry_code")] == "This field is required."
    assert not Lead.objects.filter(email="bad@example.jp").exists()


def test_the_company_api_round_trip_and_422(api):
    define("listed", CustomFieldType.BOOLEAN, CustomObject.COMPANY)
    define("founded", CustomFieldType.DATE, CustomObject.COMPANY)
    created = api.post(
        "/api/v1/companies", {"name": "株式会社API", "custom": {"listed": True, "founded": "1999-04-01"}}
    )
    assert created.status_code == 201, created.content
    company_id = created.json()["id"]
    assert created.json()["custom"] == {"listed": True, "founded": "1999-04-01"}
    patched = api.client.patch(
        f"/api/v1/companies/{company_id}",
        data={"custom": {"founded": "2001-02-30"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "custom", "founded"]
    assert Company.objects.get(pk=company_id).custom == {"listed": True, "founded": "1999-04-01"}
