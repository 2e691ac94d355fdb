"""Custom fields: an admin's definitions, the checks of values by type, and the places they show (lead and company
forms, the lead list's columns and filters, the CSV export, the API, the record pages)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from leads.custom_fields.services import (
    custom_value_clean,
    custom_values_clean,
    field_definition_archive,
    field_definition_create,
    field_definition_edit,
)
from leads.models import Company, CustomFieldType, CustomObject, FieldDefinition, Lead
from leads.records import services as records
from salesmarketing.models import User
from tests.conftest import require_or_skip
from tests.leads.factories import CompanyFactory, LeadFactory, make_company
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin():
    return UserFactory(username="admin1", display_name="管理 者", role=User.Role.ADMIN)


def define(key: str, field_type: str = CustomFieldType.TEXT, object_type: str = CustomObject.LEAD, **fields):
    fields.setdefault("label_ja", key)
    fields.setdefault("label_en", key.title())
    return field_definition_create(by=None, object_type=object_type, key=key, field_type=field_type, **fields)


@pytest.fixture
def budget():
    return define(
        "budget", CustomFieldType.NUMBER, label_ja="予算", label_en="Budget", in_list=True, in_filter=True
    )


@pytest.fixture
def timing():
    return define(
        "timing",
        CustomFieldType.CHOICE,
        label_ja="導入時期",
        options=["今期", "来期", "未定"],
        in_list=True,
        in_filter=True,
    )


# --- Definitions ------------------------------------------------------------------------------------------


def test_a_definition_keeps_its_options_in_order_without_blanks_or_repeats():
    field = define("timing", CustomFieldType.CHOICE, options="今期\n\n来期\n今期\n未定\n")
    assert field.options == ["今期", "来期", "未定"]


@pytest.mark.parametrize("key", ["Budget", "1st", "予算", "a-b", "", "x" * 41])
def test_a_key_must_be_lower_case_letters_digits_and_underscores(key):
    with pytest.raises(ValidationError) as error:
        define(key)
    assert "key" in error.value.message_dict


def test_a_choice_field_needs_options():
    with pytest.raises(ValidationError) as error:
        define("timing", CustomFieldType.CHOICE, options="")
    assert "options" in error.value.message_dict


def test_a_key_is_unique_per_record_type_but_may_repeat_across_types():
    define("budget")
    with pytest.raises(ValidationError):
        define("budget")
    assert define("budget", object_type=CustomObject.DEAL).key == "budget"


def test_the_key_and_type_are_fixed_once_a_record_holds_a_value(budget):
    field_definition_edit(definition=budget, by=None, key="budget_yen")  # no values yet: allowed
    budget.refresh_from_db()
    assert budget.key == "budget_yen"
    LeadFactory(custom={"budget_yen": 100})
    with pytest.raises(ValidationError) as error:
        field_definition_edit(definition=budget, by=None, key="yen")
    assert "key" in error.value.message_dict
    with pytest.raises(ValidationError):
        field_definition_edit(definition=budget, by=None, field_type=CustomFieldType.TEXT)
    field_definition_edit(definition=budget, by=None, label_ja="ご予算")  # labels still change
    budget.refresh_from_db()
    assert (budget.key, budget.label_ja) == ("budget_yen", "ご予算")


def test_an_archived_field_keeps_its_values_and_leaves_the_forms(admin, client, budget):
    lead = LeadFactory(custom={"budget": 500})
    field_definition_archive(definition=budget, by=admin)
    client.force_login(admin)
    page = client.get(f"/leads/{lead.pk}/edit").content.decode()
    assert 'name="custom.budget"' not in page
    lead.refresh_from_db()
    assert lead.custom == {"budget": 500}


# --- Values by type ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "raw", "stored"),
    [
        (CustomFieldType.TEXT, "  ご相談内容  ", "ご相談内容"),
        (CustomFieldType.NUMBER, "5,000,000", 5_000_000),
        (CustomFieldType.NUMBER, "１２．５", 12.5),
        (CustomFieldType.NUMBER, 3.0, 3),
        (CustomFieldType.DATE, "2026/4/1", "2026-04-01"),
        (CustomFieldType.DATE, "2026年10月1日", "2026-10-01"),
        (CustomFieldType.BOOLEAN, "はい", True),
        (CustomFieldType.BOOLEAN, False, False),
        (CustomFieldType.CHOICE, "来期", "来期"),
        (CustomFieldType.MULTI_CHOICE, "未定、今期", ["今期", "未定"]),
        (CustomFieldType.MULTI_CHOICE, ["来期"], ["来期"]),
        (CustomFieldType.TEXT, "", None),
    ],
)
def test_values_are_read_by_type(field_type, raw, stored):
    definition = FieldDefinition(key="x", field_type=field_type, options=["今期", "来期", "未定"])
    assert custom_value_clean(definition, raw) == stored


@pytest.mark.parametrize(
    ("field_type", "raw", "message"),
    [
        (CustomFieldType.NUMBER, "たくさん", "Enter a number."),
        (CustomFieldType.NUMBER, True, "Enter a number."),
        (CustomFieldType.NUMBER, 10**16, "Enter a number below"),
        (CustomFieldType.NUMBER, "1e999999", "Enter a number below"),
        (CustomFieldType.DATE, "2026-02-30", "Enter a date such as 2026-04-01."),
        (CustomFieldType.DATE, 20260401, "Enter a date such as 2026-04-01."),
        (CustomFieldType.BOOLEAN, "maybe", "Enter yes or no."),
        (CustomFieldType.CHOICE, "再来期", "Choose one of: 今期 / 来期 / 未定."),
        (CustomFieldType.MULTI_CHOICE, ["今期", "再来期"], "Not an option: 再来期."),
        (CustomFieldType.TEXT, 5, "Enter text."),
        (CustomFieldType.TEXT, "x" * 2001, "at most 2000 characters"),
    ],
)
def test_a_bad_value_gets_a_message_saying_what_to_enter(field_type, raw, message, english):
    definition = FieldDefinition(key="x", field_type=field_type, options=["今期", "来期", "未定"])
    with pytest.raises(ValidationError) as error:
        custom_value_clean(definition, raw)
    assert message in error.value.messages[0]


def test_errors_come_per_field_and_the_required_ones_are_named(budget, timing, english):
    field_definition_edit(definition=timing, by=None, required=True)
    timing.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        custom_values_clean(definitions=[budget, timing], values={"budget": "abc", "nope": 1})
    assert error.value.message_dict == {
        "custom.budget": ["Enter a number."],
        "custom.nope": ["No custom field has this key."],
        "custom.timing": ["This field is required."],
    }


def test_only_the_keys_given_change_and_an_empty_value_removes_one(budget, timing):
    current = {"budget": 1, "timing": "今期", "old": "kept"}
    assert custom_values_clean(definitions=[budget, timing], values={"budget": ""}, current=current) == {
        "timing": "今期",
        "old": "kept",
    }


# --- Forms and pages ----------------------------------------------------------------------------------------


def test_the_lead_form_shows_the_form_fields_and_saves_them(client, owner, budget, timing):
    define("secret_note", in_form=False)
    client.force_login(owner)
    page = client.get("/leads/new").content.decode()
    assert 'name="custom.budget"' in page and 'name="custom.timing"' in page
    assert 'name="custom.secret_note"' not in page
    response = client.post(
        "/leads/new",
        {
            "name": "山田 太郎",
            "email": "yamada@example.co.jp",
            "owner": owner.pk,
            "custom.budget": "5000000",
            "custom.timing": "来期",
        },
    )
    assert response.status_code == 302, response.content.decode()
    lead = Lead.objects.get(email="yamada@example.co.jp")
    assert lead.custom == {"budget": 5_000_000, "timing": "来期"}
    detail = client.get(lead.get_absolute_url()).content.decode()
    assert "予算" in detail and "5,000,000" in detail and "来期" in detail


def test_a_required_field_and_a_bad_value_show_next_to_their_fields(client, owner, budget):
    define("source_detail", required=True, label_ja="流入経路詳細")
    client.force_login(owner)
    response = client.post(
        "/leads/new", {"name": "山田", "email": "y@example.co.jp", "owner": owner.pk, "custom.budget": "abc"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["custom.budget"] and form.errors["custom.source_detail"]
    assert not Lead.objects.filter(email="y@example.co.jp").exists()


def test_editing_a_lead_keeps_the_values_of_fields_the_form_does_not_show(client, owner, budget):
    define("crm_id", in_form=False)
    lead = LeadFactory(owner=owner, name="山田", custom={"crm_id": "A-1", "budget": 10})
    client.force_login(owner)
    response = client.post(
        f"/leads/{lead.pk}/edit",
        {"name": "山田", "email": lead.email, "owner": owner.pk, "custom.budget": "20"},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.custom == {"crm_id": "A-1", "budget": 20}


def test_the_company_form_saves_custom_fields_and_the_account_page_shows_them(client, marketer):
    define(
        "contract_type",
        CustomFieldType.MULTI_CHOICE,
        CustomObject.COMPANY,
        label_ja="契約形態",
        options=["年間", "月額"],
    )
    define("listed", CustomFieldType.BOOLEAN, CustomObject.COMPANY, label_ja="上場")
    client.force_login(marketer)
    response = client.post(
        "/leads/companies/new",
        {"name": "株式会社カスタム", "custom.contract_type": ["月額", "年間"], "custom.listed": "true"},
    )
    assert response.status_code == 302, response.content.decode()
    company = Company.objects.get(name="株式会社カスタム")
    assert company.custom == {"contract_type": ["年間", "月額"], "listed": True}
    page = client.get(company.get_absolute_url()).content.decode()
    assert "契約形態" in page and "年間, 月額" in page and "上場" in page


# --- The lead list ----------------------------------------------------------------------------------------


def test_the_list_shows_column_fields_and_filters_on_filter_fields(client, marketer, budget, timing):
    LeadFactory(name="来期さん", custom={"budget": 3_000_000, "timing": "来期"})
    LeadFactory(name="今期さん", custom={"budget": 9_000_000, "timing": "今期"})
    LeadFactory(name="空さん")
    client.force_login(marketer)
    page = client.get("/leads/").content.decode()
    assert "<th>予算</th>" in page and "<th>導入時期</th>" in page and "3,000,000" in page
    names = lambda response: [lead.name for lead in response.context["page"]]  # noqa: E731
    assert names(client.get("/leads/", {"custom.timing": "来期"})) == ["来期さん"]
    assert names(client.get("/leads/", {"custom.budget.min": "5000000"})) == ["今期さん"]
    assert sorted(names(client.get("/leads/", {"custom.budget.max": "9000000"}))) == ["今期さん", "来期さん"]


def test_the_filter_uses_the_gin_index():
    """`custom @> …` is what the jsonb_path_ops index serves (the plan may still read the table when it is
    small; the index's existence and its operator class are what the lookups rely on)."""
    from django.db import connection

    require_or_skip(connection.vendor == "postgresql", "the GIN index is PostgreSQL's (none on SQLite)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'leads_lead_custom_gin'")
        (indexdef,) = cursor.fetchone()
    assert "gin (custom jsonb_path_ops)" in indexdef
    sql = str(Lead.objects.filter(custom__contains={"timing": "来期"}).query)
    assert "@>" in sql


def test_custom_columns_cost_no_query_per_row(client, marketer, django_assert_num_queries, budget, timing):
    """The list reads the definitions once; each value comes from the lead's own row. 8 queries: the layout's
    2 (session; the user with team and unread count), the custom fields' definitions, the owners of the
    filter, the campaigns of the filter, the count, the page and the saved views."""
    client.force_login(marketer)
    for i in range(3):
        LeadFactory(custom={"budget": i, "timing": "今期"})
    with django_assert_num_queries(8) as few:
        client.get("/leads/")
    for i in range(40):
        LeadFactory(custom={"budget": i, "timing": "来期"})
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get("/leads/")
    assert response.content.decode().count("来期") >= 40
    FieldDefinition.objects.update(in_list=False)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/leads/")  # the same count without the columns


# --- The company list -------------------------------------------------------------------------------------


def test_the_company_list_shows_column_fields_and_filters_on_filter_fields(client, marketer):
    define("plan", CustomFieldType.CHOICE, CustomObject.COMPANY, label_ja="契約", options=["有償", "無償"],
           in_list=True, in_filter=True)  # fmt: skip
    define(
        "seats", CustomFieldType.NUMBER, CustomObject.COMPANY, label_ja="席数", in_list=True, in_filter=True
    )
    define("listed", CustomFieldType.BOOLEAN, CustomObject.COMPANY, label_ja="上場", in_filter=True)
    define(
        "memo", CustomFieldType.TEXT, CustomObject.COMPANY, label_ja="社内メモ"
    )  # neither column nor filter
    CompanyFactory(name="金株式会社", custom={"plan": "有償", "seats": 1200, "listed": True, "memo": "秘密"})
    CompanyFactory(name="無料株式会社", custom={"plan": "無償", "seats": 3})
    CompanyFactory(name="空株式会社")
    client.force_login(marketer)
    page = client.get("/leads/companies/").content.decode()
    assert "<th>契約</th>" in page and "<th>席数</th>" in page and "1,200" in page
    assert "<th>上場</th>" not in page and "社内メモ" not in page and "秘密" not in page
    assert (
        'name="custom.plan"' in page and 'name="custom.seats.min"' in page and 'name="custom.listed"' in page
    )
    names = lambda response: sorted(c.name for c in response.context["page"])  # noqa: E731
    assert names(client.get("/leads/companies/", {"custom.plan": "有償"})) == ["金株式会社"]
    assert names(client.get("/leads/companies/", {"custom.seats.max": "100"})) == ["無料株式会社"]
    assert names(client.get("/leads/companies/", {"custom.listed": "false"})) == []
    assert names(client.get("/leads/companies/", {"custom.listed": "true"})) == ["金株式会社"]
    response = client.get("/leads/companies/", {"custom.seats.min": "many"})  # ignored, and said so
    assert len(response.context["page"]) == 3 and "custom.seats.min" in response.context["form"].errors


def test_the_company_lists_custom_columns_cost_no_query_per_row(client, marketer, django_assert_num_queries):
    """6 queries: the layout's 2, the company custom fields' definitions, the owners of the filter, the count
    and the page, whatever the number of rows and of columns."""
    define("plan", CustomFieldType.TEXT, CustomObject.COMPANY, in_list=True, in_filter=True)
    client.force_login(marketer)
    CompanyFactory(custom={"plan": "松"})
    with django_assert_num_queries(6):
        client.get("/leads/companies/")
    for _ in range(20):
        CompanyFactory(custom={"plan": "竹"})
    with django_assert_num_queries(6):
        assert client.get("/leads/companies/").content.decode().count("竹") >= 20


def test_the_csv_export_has_the_export_fields(client, marketer, budget, timing):
    define("internal", in_export=False)
    define("due", CustomFieldType.DATE, label_ja="期日")
    LeadFactory(
        email="csv@example.co.jp",
        custom={"budget": 1200, "timing": "未定", "internal": "x", "due": "2026-05-01"},
    )
    client.force_login(marketer)
    response = client.get("/leads/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    assert header[-3:] == ["予算", "導入時期", "期日"] and "internal" not in header
    assert row[-3:] == ["1200", "未定", "2026-05-01"]


# --- Permissions --------------------------------------------------------------------------------------------


def test_only_admins_define_fields(client, owner, manager, marketer, admin):
    for user in (owner, manager, marketer):
        client.force_login(user)
        assert client.get("/settings/custom-fields/").status_code == 403
        assert client.post("/settings/custom-fields/new", {}).status_code == 403
    client.force_login(admin)
    assert client.get("/settings/custom-fields/").status_code == 200
    response = client.post(
        "/settings/custom-fields/new",
        {
            "object_type": "lead",
            "key": "budget",
            "label_ja": "予算",
            "label_en": "Budget",
            "field_type": "number",
            "in_form": "on",
            "in_list": "on",
            "position": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()
    field = FieldDefinition.objects.get(key="budget")
    assert field.in_list and not field.in_filter
    page = client.get("/settings/custom-fields/").content.decode()
    assert "予算" in page and "budget" in page


def test_the_settings_page_fixes_the_key_once_values_exist(client, admin, budget):
    LeadFactory(custom={"budget": 1})
    client.force_login(admin)
    page = client.get(f"/settings/custom-fields/{budget.pk}/").content.decode()
    assert 'name="key" value="budget"' in page and "disabled" in page.split('name="key"')[1].split(">")[0]
    response = client.post(
        f"/settings/custom-fields/{budget.pk}/",
        {"key": "other", "label_ja": "予算2", "field_type": "text", "position": 0, "in_form": "on"},
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.key, budget.field_type, budget.label_ja) == ("budget", "number", "予算2")


def test_the_settings_page_archives_and_restores(client, admin, budget):
    client.force_login(admin)
    client.post(f"/settings/custom-fields/{budget.pk}/archive")
    budget.refresh_from_db()
    assert budget.archived_at is not None
    client.post(f"/settings/custom-fields/{budget.pk}/archive", {"restore": "1"})
    budget.refresh_from_db()
    assert budget.archived_at is None


def test_everyone_who_sees_a_lead_sees_its_values_and_others_get_404(
    client, owner, teammate, outsider, budget
):
    lead = LeadFactory(owner=owner, custom={"budget": 777})
    client.force_login(teammate)
    assert "777" in client.get(lead.get_absolute_url()).content.decode()
    client.force_login(outsider)
    assert client.get(lead.get_absolute_url()).status_code == 404


def test_the_service_checks_values_whatever_the_caller(owner, budget):
    with pytest.raises(ValidationError) as error:
        records.lead_create(by=owner, email="svc@example.co.jp", name="x", custom={"budget": "many"})
    assert "custom.budget" in error.value.message_dict
    company = records.company_create(by=owner, name="株式会社X", custom={})
    assert company.custom == {}
    assert make_company("Y").custom == {}


# --- Merge ----------------------------------------------------------------------------------------------------


def test_a_merge_keeps_the_survivors_values_and_takes_the_keys_it_lacks(manager, budget, timing):
    from leads.merge.services import company_merge, lead_merge

    survivor = LeadFactory(custom={"budget": 1})
    merged = LeadFactory(custom={"budget": 2, "timing": "来期"})
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    survivor.refresh_from_db()
    assert survivor.custom == {"budget": 1, "timing": "来期"}
    first, second = make_company("株式会社甲"), make_company("株式会社乙")
    Company.objects.filter(pk=second.pk).update(custom={"listed": True})
    company_merge(survivor_id=first.pk, merged_id=second.pk, taken={}, by=manager)
    first.refresh_from_db()
    assert first.custom == {"listed": True}
