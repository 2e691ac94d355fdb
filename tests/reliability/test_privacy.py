"""Personal data: export and erasure of a lead (service, lead page, API, commands), and unsubscribes honoured."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import threading

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.db import connection, connections
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from kpis.models import VisitorPeriod
from kpis.periods import Period
from kpis.registry import compute
from kpis.services import action_item_create
from leads.choices import LeadSource, TouchType
from leads.importing import import_job_create, import_job_run
from leads.ingest import events_ingest
from leads.models import ErasureRecord, Handoff, ImportJob, Lead, Touch, Visitor
from leads.privacy import lead_erase, lead_export, unsubscribe_path
from leads.services import company_resolve, lead_upsert
from pipeline.models import Activity, Deal
from pipeline.services import (
    activity_log,
    deal_close_lost,
    deal_close_won,
    deal_create,
    pipeline_ensure_default,
    task_create,
)
from salesmarketing.models import ApiKey, Notification, NotificationEmail, Team, User
from salesmarketing.services import api_key_create
from tests.conftest import require_or_skip
from tests.salesmarketing.factories import TeamFactory, UserFactory, notify

pytestmark = pytest.mark.django_db

EMAIL = "taro.yamada@example.co.jp"
NAME = "山田 太郎"


# --- Fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture
def rep(sales_team):
    return UserFactory(username="rep", role=User.Role.SALES, team=sales_team)


@pytest.fixture
def marketing_manager():
    team = TeamFactory(name="マーケティング部", kind=Team.Kind.MARKETING)
    user = UserFactory(username="mktg_mgr", role=User.Role.MANAGER, team=team)
    team.manager = user
    team.save()
    return user


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=User.Role.ADMIN, team=None, is_staff=True, is_superuser=True)


@pytest.fixture
def person(rep):
    """A lead with everything a CRM holds about a person: company, browsing (first anonymous, then stitched),
    a form with consent, a handoff, a lead-only call, a won deal (created from it) with an activity."""
    company = company_resolve(name="株式会社山田製作所", domain="yamada.example.co.jp")
    events_ingest(
        events=[
            {"id": "pv-anon", "type": "page_view", "visitor_id": "vid-taro", "url": "https://x.jp/pricing"},
        ],
        source="web",
    )
    events_ingest(
        events=[
            {
                "id": "form-1",
                "type": "form_submit",
                "email": EMAIL,
                "name": NAME,
                "visitor_id": "vid-taro",
                "company": "株式会社山田製作所",
                "company_domain": "yamada.example.co.jp",
                "consent_email": True,
                "utm_source": "newsletter",
                "url": "https://x.jp/download",
            }
        ],
        source="form:1",
    )
    lead = Lead.objects.get(email=EMAIL)
    Lead.objects.filter(pk=lead.pk).update(owner=rep, fit_score=30, engagement_score=40, total_score=70)
    handoff = Handoff.objects.create(
        lead=lead,
        owner=rep,
        team=rep.team,
        state=Handoff.State.ACCEPTED,
        mql_at=timezone.now() - dt.timedelta(hours=3),
        decided_at=timezone.now(),
        reason="料金ページ閲覧",
    )
    activity_log(by=rep, type="call", subject="初回架電", lead=lead, body=f"{NAME}様と会話")
    pipeline_ensure_default()
    deal = deal_create(
        name=f"{company.name} / {NAME}",
        owner=rep,
        by=rep,
        company=company,
        contact=lead,
        handoff=handoff,
        amount=2_400_000,
        expected_close_date=timezone.localdate() + dt.timedelta(days=10),
    )
    activity_log(
        by=rep, type="meeting", subject="デモ", deal=deal, lead=lead, body=f"{NAME}様 ({EMAIL}) 同席"
    )
    deal_close_won(deal=deal, amount=2_400_000, by=rep)
    notify(recipient=rep, title=f"New lead to call: {NAME}", url=reverse("leads:handoffs"), email=True)
    assert [mail for mail in NotificationEmail.objects.all() if NAME in mail.text[0]]  # its e-mail
    lead.refresh_from_db()
    return lead


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_headers(scopes=None, user=None) -> dict:
    """A key with every scope, privacy included (new keys leave it out unless asked), or the given ones."""
    scopes = ApiKey.Scope.values if scopes is None else scopes
    _key, plain = api_key_create(name="privacy", source="privacy", scopes=scopes, user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def this_month_kpis() -> dict:
    today = timezone.localdate()
    return compute([Period.between(today - dt.timedelta(days=31), today + dt.timedelta(days=1))])[0]


# --- Export ---------------------------------------------------------------------------------------------------


def test_the_export_holds_the_person_their_company_touches_handoffs_activities_consent_and_scores(person):
    doc = json.loads(json.dumps(lead_export(lead=person), default=str))

    assert doc["lead"]["email"] == EMAIL and doc["lead"]["name"] == NAME
    assert doc["company"]["name"] == "株式会社山田製作所"
    assert [t["type"] for t in doc["touches"]] == [
        "page_view",
        "form_submit",
        "sales_activity",
        "sales_activity",
    ]
    assert doc["touches"][1]["utm"] == {"source": "newsletter"}
    assert [b["visitor_id"] for b in doc["browsers"]] == ["vid-taro"]
    assert doc["handoffs"][0]["state"] == "accepted" and doc["handoffs"][0]["reason"] == "料金ページ閲覧"
    assert {a["subject"] for a in doc["activities"]} == {"初回架電", "デモ"}
    assert doc["deals"][0]["status"] == "won" and doc["deals"][0]["won_amount"] == "2400000"
    assert doc["consent"] == {
        "consent_email": True,
        "unsubscribed_at": None,
        "email_undeliverable_at": None,
        "may_receive_marketing_email": True,
        "obtained_by": None,
        "given_at": None,
        "wording": "",
    }
    assert [c["to_stage"] for c in doc["lifecycle"]][-1] == "customer"  # the won deal made them a customer
    assert doc["scores"]["total"] == 70 and doc["scores"]["fit"] == 30


def test_the_lead_page_download_is_one_json_file(person, admin):
    response = login(admin).get(reverse("leads:privacy_export", args=[person.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == f'attachment; filename="lead-{person.pk}.json"'
    assert json.loads(response.content)["lead"]["email"] == EMAIL


# --- Erasure --------------------------------------------------------------------------------------------------


def test_erasing_removes_the_person_and_keeps_the_revenue(person, rep, admin):
    deal = Deal.objects.get(contact=person)
    other = lead_upsert(email="other@example.jp", source="manual")[0]
    before = this_month_kpis()

    record = lead_erase(lead=person, by=admin)

    assert not Lead.objects.filter(pk=person.pk).exists()
    assert not Touch.objects.filter(visitor_id="vid-taro").exists()  # the stitched anonymous visit too
    assert not Visitor.objects.filter(visitor_id="vid-taro").exists()
    assert not Handoff.objects.filter(lead_id=person.pk).exists()
    assert Lead.objects.filter(pk=other.pk).exists()
    # The deal stays, with its company and amounts, without the person (and without their name in its name).
    deal.refresh_from_db()
    assert deal.contact_id is None and deal.handoff_id is None
    assert deal.won_amount == 2_400_000 and deal.company.name == "株式会社山田製作所"
    assert NAME not in deal.name
    # Its activity stays on the deal; the call logged only on the lead is gone.
    assert list(Activity.objects.filter(deal=deal).values_list("subject", "body", "lead_id")) == [
        ("デモ", "—様 (—) 同席", None)
    ]
    assert not Activity.objects.filter(subject="初回架電").exists()
    assert not [note for note in Notification.objects.all() if NAME in "".join(note.text)]
    assert not [mail for mail in NotificationEmail.objects.all() if NAME in "".join(mail.text)]

    after = this_month_kpis()
    for key in ("revenue", "deals_won", "deals_created"):
        assert after[key] == before[key], key
    assert after["leads_acquired"] == before["leads_acquired"] - 1
    assert record.counts["deals_detached"] == 1 and record.counts["touches"] == 4


PHONE = "03-1234-5678"
KANA = "ヤマダ タロウ"


def _text_columns() -> list[tuple[str, str]]:
    """Every text, varchar, JSON and binary column of every table in the database, found by introspection (not
    from the models, so a table that no model describes is searched too)."""
    wanted = {"CharField", "TextField", "JSONField", "EmailField", "SlugField", "URLField", "BinaryField"}
    columns = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                field_type = connection.introspection.get_field_type(column.type_code, column)
                if field_type in wanted or "char" in str(field_type).lower():
                    columns.append((table, column.name))
    return columns


def _as_texts(value) -> list[str]:
    """The column value as text, in every form a search should see: bytes decoded, JSON unescaped."""
    if value is None:
        return []
    if isinstance(value, (bytes, memoryview)):
        raw = bytes(value)
        return [raw.decode("utf-8", "ignore"), raw.decode("cp932", "ignore")]
    if not isinstance(value, str):
        return [json.dumps(value, ensure_ascii=False)]
    texts = [value]
    with contextlib.suppress(ValueError):  # SQLite keeps JSON \u-escaped
        texts.append(json.dumps(json.loads(value), ensure_ascii=False))
    return texts


def copies_of(values: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, value) for every cell of the database holding one of the values, in any letter case."""
    needles = [v.casefold() for v in values]
    found = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            cursor.execute(f"SELECT {qn(column)} FROM {qn(table)}")
            for (cell,) in cursor.fetchall():
                for text in _as_texts(cell):
                    found += [
                        (table, column, v)
                        for v, n in zip(values, needles, strict=True)
                        if n in text.casefold()
                    ]
    return found


def test_after_an_erasure_no_table_holds_the_email_name_phone_or_tracking_id(person, rep, admin):
    """Rows people wrote elsewhere quote the person in other letter cases; after the erasure no text, varchar,
    JSON or binary column of any table holds the email, name, kana, phone or tracking id."""
    lead_upsert(email=EMAIL.upper(), source="manual", phone=PHONE, name_kana=KANA)
    person.refresh_from_db()
    assert (person.phone, person.name_kana) == (PHONE, KANA)
    shouting = EMAIL.upper()
    won = Deal.objects.get(contact=person)
    activity_log(
        by=rep, type="email", subject=f"Re: {shouting}", deal=won, body=f"To: {shouting}, tel {PHONE}"
    )
    task_create(deal=won, title=f"{shouting} に見積送付", due_date=timezone.localdate(), by=rep)
    lost = deal_create(
        name="追加案件",
        owner=rep,
        by=rep,
        company=won.company,
        contact=person,
        amount=100_000,
        expected_close_date=timezone.localdate() + dt.timedelta(days=3),
    )
    deal_close_lost(
        deal=lost, cause=Deal.LossCause.PRICE, side=Deal.LossSide.SALES, note=f"{shouting} 予算なし", by=rep
    )
    action_item_create(
        title=f"{NAME.replace(' ', '')}様 ({shouting}) に再連絡",
        owner=rep,
        due_date=timezone.localdate(),
        week=Period.week_of(timezone.localdate()),
        by=rep,
    )
    notify(recipient=rep, title="返信あり", body=f"{shouting} から返信")
    LogEntry.objects.log_actions(
        user_id=admin.pk, queryset=[person], action_flag=CHANGE, change_message="電話番号"
    )
    values = [EMAIL, NAME, KANA, PHONE, "vid-taro"]
    before = copies_of(values)
    assert {v for _t, _c, v in before} == set(values)  # the search sees them before
    if connection.vendor == "postgresql":  # the visitor roll-up, kept by a trigger there, counts the person
        assert VisitorPeriod.objects.filter(visitor=f"lead:{person.pk}").exists()  # by lead, not by cookie

    lead_erase(lead=person, by=admin)

    assert copies_of(values) == []
    lost.refresh_from_db()
    assert lost.loss_note == "— 予算なし"  # the note stays, without the person


def test_the_audit_row_names_nobody(person, admin):
    record = lead_erase(lead=person, by=admin)

    stored = json.dumps(
        model_to_dict(ErasureRecord.objects.get(pk=record.pk)), default=str, ensure_ascii=False
    )
    assert EMAIL not in stored and NAME not in stored and "yamada" not in stored
    assert record.lead_id == person.pk and record.erased_by == admin and record.via == "web"
    assert record.email_sha256 == hashlib.sha256(EMAIL.encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_two_erasures_at_once_erase_once_and_the_second_finds_nothing(person, admin):
    require_or_skip(connection.vendor == "postgresql", "row locks need PostgreSQL (DATABASE_URL)")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def erase() -> None:
        try:
            barrier.wait(timeout=10)
            lead_erase(lead=Lead(pk=person.pk), by=admin)
            outcomes.append("erased")
        except Lead.DoesNotExist:
            outcomes.append("gone")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=erase) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["erased", "gone"]
    assert ErasureRecord.objects.filter(lead_id=person.pk).count() == 1


def test_an_import_file_holding_the_email_is_emptied(person):
    job = import_job_create(
        content=f"メールアドレス,氏名\n{EMAIL.upper()},{NAME}\n".encode(), file_name="展示会.csv"
    )
    kept = import_job_create(content=b"email\nsomeone@example.jp\n", file_name="other.csv")

    lead_erase(lead=person)

    assert bytes(ImportJob.objects.get(pk=job.pk).content) == b""
    assert bytes(ImportJob.objects.get(pk=kept.pk).content) != b""


def test_the_lead_page_asks_before_erasing_and_erases_on_post(person, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    url = reverse("leads:privacy_erase", args=[person.pk])

    with translation.override("en"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"Erase permanently" in page.content
    assert Lead.objects.filter(pk=person.pk).exists()  # GET changes nothing
    assert client.post(url).status_code == 403  # no CSRF token
    assert Lead.objects.filter(pk=person.pk).exists()

    response = client.post(url, {"csrfmiddlewaretoken": page.context["csrf_token"]})

    assert response.status_code == 302 and response["Location"] == reverse("leads:list")
    assert not Lead.objects.filter(pk=person.pk).exists()
    assert ErasureRecord.objects.get().erased_by == admin


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("marketing_manager", 200), ("marketer", 403), ("manager", 403), ("rep", 403)],
)
def test_only_admins_and_marketing_managers_may_export_or_erase(request, person, who, status):
    client = login(request.getfixturevalue(who))

    assert client.get(reverse("leads:privacy_export", args=[person.pk])).status_code == status
    assert client.get(reverse("leads:privacy_erase", args=[person.pk])).status_code == status
    if status == 403:
        assert client.post(reverse("leads:privacy_erase", args=[person.pk])).status_code == 403
        assert Lead.objects.filter(pk=person.pk).exists()


def test_a_lead_the_user_cannot_see_is_not_found(person, outsider):
    client = login(outsider)

    assert client.get(reverse("leads:privacy_export", args=[person.pk])).status_code == 404
    assert client.post(reverse("leads:privacy_erase", args=[person.pk])).status_code == 404


def test_the_buttons_show_only_for_those_allowed(person, admin, rep):
    url = reverse("leads:detail", args=[person.pk])
    erase = reverse("leads:privacy_erase", args=[person.pk]).encode()

    assert erase in login(admin).get(url).content
    assert erase not in login(rep).get(url).content


def test_the_api_exports_and_erases_with_the_privacy_scope(client, person):
    headers = api_headers()
    export = client.get(f"/api/v1/leads/{person.pk}/export", **headers)
    assert export.status_code == 200 and export.json()["lead"]["email"] == EMAIL

    erased = client.delete(f"/api/v1/leads/{person.pk}", **headers)

    assert erased.status_code == 200
    assert erased.json()["lead_id"] == person.pk and EMAIL not in erased.content.decode()
    assert not Lead.objects.filter(pk=person.pk).exists()
    assert ErasureRecord.objects.get().via == "api"
    assert client.delete(f"/api/v1/leads/{person.pk}", **headers).status_code == 404


def test_the_api_refuses_keys_without_the_scope_or_whose_user_may_not(client, person, rep):
    others = [s for s in ApiKey.Scope.values if s != ApiKey.Scope.PRIVACY]
    without_scope = api_headers(scopes=others)
    as_rep = api_headers(user=rep)

    assert client.get(f"/api/v1/leads/{person.pk}/export", **without_scope).status_code == 403
    assert client.delete(f"/api/v1/leads/{person.pk}", **without_scope).status_code == 403
    assert client.delete(f"/api/v1/leads/{person.pk}", **as_rep).status_code == 403
    assert client.delete(f"/api/v1/leads/{person.pk}").status_code == 401
    assert Lead.objects.filter(pk=person.pk).exists()


def test_the_commands_export_and_erase(person, admin, tmp_path):
    out = tmp_path / "taro.json"
    call_command("export_lead", EMAIL.upper(), output=str(out), stderr=io.StringIO())
    assert json.loads(out.read_text(encoding="utf-8"))["lead"]["id"] == person.pk

    dry = io.StringIO()
    call_command("erase_lead", str(person.pk), stdout=dry)
    assert "--yes" in dry.getvalue() and Lead.objects.filter(pk=person.pk).exists()

    done = io.StringIO()
    call_command("erase_lead", str(person.pk), "--yes", "--by", "admin", stdout=done)
    assert not Lead.objects.filter(pk=person.pk).exists()
    assert EMAIL not in done.getvalue()
    assert ErasureRecord.objects.get().erased_by == admin


# --- Unsubscribe ----------------------------------------------------------------------------------------------


def test_the_unsubscribe_link_asks_on_get_and_unsubscribes_on_post(person):
    client = Client(enforce_csrf_checks=True)
    url = unsubscribe_path(lead_id=person.pk)

    with translation.override("en"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"Stop receiving marketing email" in page.content
    person.refresh_from_db()
    assert person.unsubscribed_at is None  # a mail scanner following the link changes nothing
    assert client.post(url).status_code == 403  # no CSRF token

    done = client.post(url, {"csrfmiddlewaretoken": page.context["csrf_token"]})
    client.post(url, {"csrfmiddlewaretoken": page.context["csrf_token"]})  # a double click

    assert done.status_code == 200
    person.refresh_from_db()
    assert person.unsubscribed_at is not None and person.consent_email is False
    assert person.touches.filter(type=TouchType.UNSUBSCRIBE).count() == 1
    assert not Lead.objects.emailable().filter(pk=person.pk).exists()


def test_a_forged_or_altered_link_is_refused(person):
    url = unsubscribe_path(lead_id=person.pk)

    assert Client().get(url[:-3] + "xyz").status_code == 400
    assert Client().post(url.replace("/u/", "/u/a")).status_code == 400


@pytest.fixture
def unsubscribed(person):
    events_ingest(events=[{"id": "unsub", "type": "unsubscribe", "lead_id": person.pk}], source="email")
    person.refresh_from_db()
    assert person.unsubscribed_at is not None and not person.consent_email
    return person


def test_a_later_form_with_consent_does_not_resubscribe(unsubscribed):
    events_ingest(
        events=[
            {"id": "form-2", "type": "form_submit", "email": EMAIL, "consent_email": True, "title": "部長"}
        ],
        source="form:1",
        lead_source=LeadSource.WEB_FORM,
    )

    unsubscribed.refresh_from_db()
    assert unsubscribed.title == "部長"  # the rest of the profile is still updated
    assert unsubscribed.consent_email is False and unsubscribed.unsubscribed_at is not None


def test_a_later_import_or_api_call_does_not_resubscribe(client, unsubscribed):
    job = import_job_create(
        content=f"メールアドレス,メール配信\n{EMAIL},はい\n".encode(), file_name="list.csv"
    )
    import_job_run(
        job=job,
        mapping={int(k): v for k, v in job.mapping.items()},
        touch_type=TouchType.TRADE_SHOW_VISIT,
        lead_source=LeadSource.IMPORT,
    )
    response = client.post(
        "/api/v1/leads",
        {"email": EMAIL, "consent_email": True},
        content_type="application/json",
        **api_headers(),
    )

    assert response.status_code == 200 and response.json()["consent_email"] is False
    unsubscribed.refresh_from_db()
    assert unsubscribed.consent_email is False and unsubscribed.unsubscribed_at is not None
    assert unsubscribed.touches.filter(type=TouchType.TRADE_SHOW_VISIT).exists()  # the import did run


def test_unsubscribed_leads_are_marked_on_the_list_and_the_page(unsubscribed, admin):
    client = login(admin)
    lead_upsert(email="subscribed@example.jp", source="manual", consent_email=True)

    with translation.override("en"):
        listing = client.get(reverse("leads:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        page = client.get(reverse("leads:detail", args=[unsubscribed.pk]), HTTP_ACCEPT_LANGUAGE="en")

    assert listing.count(">Unsubscribed</span>") == 1
    assert page.content.decode().count(">Unsubscribed</span>") == 2  # the header and the consent line
    assert list(Lead.objects.emailable().values_list("email", flat=True)) == ["subscribed@example.jp"]
