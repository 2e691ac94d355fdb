"""Dates outside 1900-01-01 .. 2100-12-31 never get in, and a period out of range answers 400, not 500.

An activity dated 0001-01-01 (Tokyo) was stored as a BC timestamp that psycopg cannot read back, so the deal page,
the lead page and the CSV export answered 500 for everyone from then on; `/?period=9999-12` and friends overflowed
Python's dates. The range lives in salesmarketing/dates.py. The walking tests below look at every form class, every
admin form and every API input schema of the project, so a date field added later without the range fails here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import types
import typing

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from campaigns.costs_import import costs_import
from kpis.models import ActionItem
from kpis.periods import Period, PeriodError
from leads.importing import import_job_create, import_job_run
from leads.models import Campaign, Touch
from pipeline.models import Activity, Deal
from pipeline.services import pipeline_ensure_default
from salesmarketing.api import api as ninja_api
from salesmarketing.dates import (
    DATE_MAX,
    DATE_MIN,
    InvalidDateInput,
    parse_date,
    parse_month,
    period_range_message,
    range_message,
)
from salesmarketing.models import User
from salesmarketing.services import api_key_create
from tests.leads.factories import CampaignFactory, make_lead
from tests.pipeline.factories import make_deal

PROJECT_PACKAGES = ("salesmarketing", "leads", "campaigns", "pipeline", "kpis")
OUT_OF_RANGE = ("0001-01-01", "9999-12-31")
SKIPPED_MODULES = ("salesmarketing.wsgi", "salesmarketing.asgi")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def pipeline(db):
    return pipeline_ensure_default()


def _deal_headers(user) -> dict[str, str]:
    _key, plain = api_key_create(name="CRM sync", source="crm", scopes=["deals:write"], user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


# --- walking every form and every API input schema -------------------------------------------------------


def _import_project_modules() -> None:
    for package_name in PROJECT_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if ".migrations" in info.name or info.name in SKIPPED_MODULES:
                continue
            importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PROJECT_PACKAGES


def _project_forms() -> list[type[forms.BaseForm]]:
    _import_project_modules()
    return sorted((f for f in _subclasses(forms.BaseForm) if _ours(f)), key=lambda f: f.__qualname__)


def _date_fields(form_class) -> list[tuple[str, forms.Field]]:
    return [
        (name, field)
        for name, field in form_class.base_fields.items()
        if isinstance(field, forms.DateField | forms.DateTimeField | forms.SplitDateTimeField)
    ]


def test_the_walk_finds_the_forms_with_dates():
    """Guards the walk itself: it must see the forms that take dates, or the test below proves nothing."""
    names = {f.__name__ for f in _project_forms() if _date_fields(f)}
    assert {
        "ActivityForm",
        "DealEditForm",
        "DealCreateForm",
        "TaskForm",
        "BoardFilterForm",
        "CampaignForm",
        "CostForm",
        "PeriodForm",
        "ActionItemForm",
        "ManualValueForm",
        "ImportMappingForm",
    } <= names


@pytest.mark.parametrize(
    "form_class", [f for f in _project_forms() if _date_fields(f)], ids=lambda f: f.__name__
)
def test_every_form_date_field_rejects_days_outside_the_range(form_class):
    for name, field in _date_fields(form_class):
        in_range = "2026-11-20T10:00" if isinstance(field, forms.DateTimeField) else "2026-11-20"
        assert field.clean(in_range), f"{form_class.__name__}.{name} refused an ordinary day"
        for value in OUT_OF_RANGE:
            with pytest.raises(ValidationError) as error:
                field.clean(value)
            assert error.value.messages == [range_message()], f"{form_class.__name__}.{name} took {value}"


def _admin_forms() -> list[tuple[str, type[forms.BaseForm]]]:
    """The add and change forms of every model registered in the admin (ours and the ones Django brings)."""
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True)
    found = []
    for model, model_admin in admin.site._registry.items():
        for obj in (None, model()):  # the add form and the change form can differ (the user admin's do)
            found.append(
                (
                    f"{model.__name__}Admin({'add' if obj is None else 'change'})",
                    model_admin.get_form(request, obj),
                )
            )
    return found


@pytest.mark.parametrize(("name", "form_class"), [pytest.param(n, f, id=n) for n, f in _admin_forms()])
def test_every_admin_date_field_rejects_days_outside_the_range(name, form_class):
    for field_name, field in _date_fields(form_class):
        split = isinstance(field, forms.SplitDateTimeField)
        assert field.clean(["2026-11-20", "10:00"] if split else "2026-11-20"), f"{name}.{field_name}"
        for value in OUT_OF_RANGE:
            with pytest.raises(ValidationError) as error:
                field.clean([value, "00:00"] if split else value)
            assert error.value.messages == [range_message()], f"{name}.{field_name} took {value}"


def test_the_admin_walk_finds_date_fields():
    names = {name for name, form_class in _admin_forms() if _date_fields(form_class)}
    assert {
        "ActivityAdmin(change)",
        "TaskAdmin(change)",
        "CampaignAdmin(change)",
        "TouchAdmin(change)",
    } <= names


def _models_in(annotation) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    found: set[type[BaseModel]] = set()
    for arg in typing.get_args(annotation):
        found |= _models_in(arg)
    return found


def _is_date(annotation) -> bool:
    if annotation in (dt.date, dt.datetime):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_date(arg) for arg in typing.get_args(annotation))
    return False


def _reachable(roots: set[type[BaseModel]]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = list(roots)
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return seen


def _input_schemas() -> list[type[BaseModel]]:
    """Every model the API validates requests with (body, query, path), and every pydantic model defined in the
    project that no response uses (EventIn: the event batch validates each event with it on its own)."""
    _import_project_modules()
    inputs: set[type[BaseModel]] = set()
    outputs: set[type[BaseModel]] = set()
    for _prefix, router in ninja_api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                inputs |= set(operation.models)
                for response in operation.response_models.values():
                    outputs |= _models_in(response)
    outputs = _reachable(outputs)
    inputs = _reachable(inputs) | {m for m in _subclasses(BaseModel) if _ours(m) and m not in outputs}
    return sorted(inputs, key=lambda m: m.__qualname__)


def _schema_date_fields(model: type[BaseModel]) -> list[tuple[str, bool]]:
    """(input key, is a datetime) of the model's date and datetime fields."""
    return [
        (field.alias or name, dt.datetime in _flatten(field.annotation))
        for name, field in model.model_fields.items()
        if _is_date(field.annotation)
    ]


def _flatten(annotation) -> set:
    return {annotation, *(a for arg in typing.get_args(annotation) for a in _flatten(arg))}


def _errors_at(model: type[BaseModel], key: str, value: str) -> list[dict]:
    try:
        model.model_validate({key: value})
    except PydanticValidationError as exc:
        return [e for e in exc.errors() if e["loc"][:1] == (key,)]
    return []


def test_the_walk_finds_the_schemas_with_dates():
    names = {m.__name__ for m in _input_schemas() if _schema_date_fields(m)}
    assert {"DealIn", "DealPatch", "EventIn"} <= names


@pytest.mark.parametrize(
    "model", [m for m in _input_schemas() if _schema_date_fields(m)], ids=lambda m: m.__name__
)
def test_every_api_date_field_rejects_days_outside_the_range(model):
    for key, is_datetime in _schema_date_fields(model):
        time = "T10:00:00+09:00" if is_datetime else ""
        assert not _errors_at(model, key, f"2026-11-20{time}"), (
            f"{model.__name__}.{key} refused an ordinary day"
        )
        for day in OUT_OF_RANGE:
            assert _errors_at(model, key, f"{day}{'T00:00:00' if is_datetime else ''}"), (
                f"{model.__name__}.{key} accepted {day}"
            )


# --- the general parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["0001-W01", "9999-12", "9999-W52", "1899-Q4", "2101-01", "0001-01-01..0001-01-02", "2100-W52"]
)
def test_periods_outside_the_range_are_refused_with_a_clear_message(text):
    with pytest.raises(PeriodError) as error:
        Period.parse(text)
    assert str(error.value) == period_range_message()
    assert isinstance(error.value, InvalidDateInput)  # a 400 page when a view lets it out


@pytest.mark.parametrize("text", ["nonsense", "2026-W54", "2026-13", "2026-02-30..2026-03-01"])
def test_unreadable_periods_say_what_was_wrong(text):
    with pytest.raises(PeriodError) as error:
        Period.parse(text)
    assert text in str(error.value) or "ISO week" in str(error.value)


def test_the_first_and_last_periods_of_the_range_are_fine():
    assert Period.parse("1900-W01").start == DATE_MIN
    assert Period.parse("2100-12").last_day == DATE_MAX
    assert Period.parse("1900-01-01..1900-01-31").days == 31


def test_month_and_date_parsers():
    assert parse_month("2026-11") == dt.date(2026, 11, 1)
    assert parse_date("2100-12-31") == DATE_MAX
    for bad in ("0001-01", "9999-12", "0000-01", "2026-13", "", "nope"):
        with pytest.raises(InvalidDateInput):
            parse_month(bad)
    for bad in ("0001-01-01", "9999-12-31", "2026-02-30", ""):
        with pytest.raises(InvalidDateInput):
            parse_date(bad)


# --- pages: 400 in the normal layout ---------------------------------------------------------------------

BAD_PERIOD_PAGES = [
    "/?period=0001-W01",
    "/?period=9999-12",
    "/kpis/weekly/?week=9999-W52",
    "/kpis/mqls/?period=0001-W01",
    "/pipeline/forecast/?from=0001-01",
    "/pipeline/forecast/?from=nonsense",
    "/?period=nonsense",
    "/campaigns/?period=custom&start=0001-01-01&end=0001-01-05",
    "/campaigns/dashboard/?period=custom&start=9999-12-31",
]


def _assert_error_page(response, message: str) -> None:
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="mainnav"' in html  # the base layout, with navigation
    assert 'role="alert"' in html
    assert message in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", BAD_PERIOD_PAGES)
def test_a_period_out_of_range_answers_400_in_the_layout(client, manager, url):
    client.force_login(manager)
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    _assert_error_page(response, "")


@pytest.mark.django_db
def test_the_400_page_names_the_range(client, manager):
    client.force_login(manager)
    response = client.get("/?period=9999-12", HTTP_ACCEPT_LANGUAGE="en")
    _assert_error_page(response, "Choose a period between 1900-01-01 and 2100-12-31.")


@pytest.mark.django_db
def test_with_debug_on_the_400_page_is_the_same_page_not_the_technical_one(client, manager, settings):
    """./scripts/dev runs with DEBUG=1: a period out of range is the user's input, so it gets the same page."""
    settings.DEBUG = True
    client.force_login(manager)
    response = client.get("/?period=9999-12", HTTP_ACCEPT_LANGUAGE="en")
    _assert_error_page(response, "Choose a period between 1900-01-01 and 2100-12-31.")
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_an_action_item_for_a_week_out_of_range_answers_400(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("kpis:action_item_create"),
        {"week": "9999-W52", "title": "宿題", "owner": manager.pk, "due_date": "2026-11-30"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    _assert_error_page(response, "Choose a period between")
    assert not ActionItem.objects.exists()


@pytest.mark.django_db
def test_an_action_item_due_out_of_range_is_a_field_error(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("kpis:action_item_create"),
        {"week": "2026-W47", "title": "宿題", "owner": manager.pk, "due_date": "9999-12-31"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert range_message() in response.content.decode()
    assert not ActionItem.objects.exists()


# --- forms, API and imports: field errors, the pages stay up ---------------------------------------------


@pytest.mark.django_db
def test_an_activity_dated_year_one_is_refused_and_the_pages_stay_up(client, owner, pipeline):
    deal = make_deal(owner=owner)
    lead = make_lead(owner=owner)
    client.force_login(owner)
    for url in (
        reverse("pipeline:activity_create", args=[deal.pk]),
        f"/pipeline/leads/{lead.pk}/activities/",
    ):
        response = client.post(
            url,
            {"type": "call", "subject": "電話", "occurred_at": "0001-01-01T00:00"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert range_message() in response.content.decode()
    assert not Activity.objects.exists()
    assert client.get(deal.get_absolute_url()).status_code == 200
    assert client.get(lead.get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_the_deal_api_answers_422_for_dates_out_of_range(client, owner, pipeline):
    headers = _deal_headers(owner)
    response = client.post(
        "/api/v1/deals",
        json.dumps({"name": "商談", "company_name": "株式会社テスト", "expected_close_date": "0001-01-01"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 422
    assert "expected_close_date" in json.dumps(response.json())
    deal = make_deal(owner=owner)
    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        json.dumps({"next_step_date": "9999-12-31"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 422
    deal.refresh_from_db()
    assert deal.next_step_date is None
    assert Deal.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["week=0001-W01", "week=9999-W52", "start=0001-01-01&end=0001-01-02", "start=9999-12-01&end=9999-12-31"],
)
def test_the_kpi_api_answers_422_for_periods_out_of_range(client, query):
    _key, plain = api_key_create(name="BI", source="bi", scopes=["kpis:read"])
    response = client.get(f"/api/v1/kpis?{query}", HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 422


@pytest.mark.django_db
def test_a_cost_row_dated_out_of_range_is_a_row_error():
    CampaignFactory(name="リスティング広告", utm_campaign="search-ads")
    sheet = "日付,キャンペーン,金額\n0001-01-01,search-ads,1000\n9999-12-31,search-ads,1000\n2026-04-01,search-ads,1000\n"
    result = costs_import(content=sheet.encode("utf-8"))
    assert result.created == 1
    assert [(e.line, e.reason) for e in result.errors] == [(2, range_message()), (3, range_message())]


@pytest.mark.django_db
def test_a_lead_row_dated_out_of_range_is_a_row_error():
    content = "メールアドレス,日時\r\na@example.jp,0001-01-01\r\nb@example.jp,9999-12-31\r\nc@example.jp,2026-04-01\r\n"
    job = import_job_create(content=content.encode("utf-8"), file_name="list.csv", encoding="auto")
    job = import_job_run(
        job=job,
        mapping={int(k): v for k, v in job.mapping.items()},
        touch_type="trade_show_visit",
        lead_source="trade_show",
    )
    assert list(Touch.objects.values_list("lead__email", flat=True)) == ["c@example.jp"]
    assert {error["line"] for error in job.errors} == {2, 3}


@pytest.mark.django_db
def test_events_dated_out_of_range_are_rejected_one_by_one(client):
    _key, plain = api_key_create(name="site", source="site", scopes=["events:write"])
    events = [
        {"id": f"e{n}", "type": "page_view", "visitor_id": "v-1", "occurred_at": day}
        for n, day in enumerate(
            ["0001-01-01T00:00:00", "9999-12-31T00:00:00+09:00", "2026-11-20T10:00:00+09:00"]
        )
    ]
    response = client.post(
        "/api/v1/events",
        json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
    )
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [
        (0, ["occurred_at"]),
        (1, ["occurred_at"]),
    ]


@pytest.mark.django_db
def test_the_admin_refuses_a_date_out_of_range_next_to_the_field(admin_client):
    for url in (
        "/admin/pipeline/activity/add/",
        "/admin/leads/campaign/add/",
        "/admin/kpis/actionitem/add/",
    ):
        assert admin_client.get(url).status_code == 200  # the limited fields keep the admin's widgets
    response = admin_client.post(
        "/admin/leads/campaign/add/",
        {"name": "展示会", "channel": "trade_show", "start_date": "0001-01-01", "budget": "0"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert range_message() in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/?period=1900-W01",
        "/?period=2100-12",
        "/?period=2100-Q4",
        "/kpis/weekly/?week=1900-W01",
        "/kpis/weekly/?week=2100-W51",
        "/kpis/mqls/?period=1900-01-01..1900-01-31",
        "/pipeline/forecast/?from=2100-12&months=12",
        "/pipeline/forecast/?from=1900-01",
        "/campaigns/?period=custom&start=1900-01-01&end=1900-02-01",
        "/campaigns/dashboard/?period=custom&start=2100-12-01&end=2100-12-31",
    ],
)
def test_the_edges_of_the_range_show_fine(client, manager, url):
    client.force_login(manager)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_the_400_page_escapes_what_was_asked_for(client, manager):
    client.force_login(manager)
    response = client.get("/?period=<script>alert(1)</script>", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 400
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
