"""Who may open what: every URL of the app and every API endpoint, for every kind of user, as data.

The matrix below is the specification. Each row is one URL name with the request to send and the expected answer
for each role: a status code, LOGIN (302 to the login page) or ADMIN_LOGIN (302 to the admin's login page).
`test_every_url_has_a_row` fails when a URL appears without a row, so a new page cannot skip this review.

How the app means access to work (README, the models' `visible_to`, the views' access helpers):
- Everyone logged in reads the shared pages (dashboards, lists, campaigns, personas, KPIs, weekly review).
- Leads: marketing, managers and admins see every lead; a rep sees the leads owned by their team.
- Deals (and their tasks): a rep sees their own, a manager their team's, an admin all; for everyone else
  they do not exist (404). Marketing owns no deals: it reads every deal (board, forecast, deal page; the board
  defaults to marketing-sourced deals) and changes none (404 on a deal's writes, 403 on a new deal).
- Handoffs: acted on by their rep, the team's manager or an admin; marketing only watches (404 to act).
  Only managers and admins assign them to a rep (the rep gets 403).
- Marketing, managers and admins change campaigns, personas, scoring and import lists; reps get 403.
- Targets are set by managers and admins; hand-entered KPI values also by marketing.
- API keys are managed by admins. The Django admin is for staff only.
- The API authenticates by Bearer key only (a session is not enough): 401 without a valid key, 403 without the
  endpoint's scope; a key acting as a user reaches what that user reaches in the app, for reads and writes alike,
  and stops working when the user is deactivated or deleted (never becoming an integration's key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from anymail import urls as anymail_urls
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from campaigns.models import PersonaRule
from campaigns.services import cost_add
from integrations.models import WebhookDelivery
from integrations.services import subscription_create
from kpis.periods import Period
from kpis.registry import KPIS
from kpis.services import action_item_create
from leads.importing import import_job_create, import_job_run
from leads.models import (
    BulkJob,
    Campaign,
    Company,
    FieldDefinition,
    FormEndpoint,
    Handoff,
    Lead,
    Persona,
    SavedView,
    ScoringGroup,
    ScoringRule,
)
from leads.privacy import unsubscribe_token
from leads.services import company_resolve, lead_upsert
from leads.tracking import email_click_token, email_open_token
from nurture.models import Broadcast, EmailTemplate, Enrolment, Segment, SegmentKind, Sequence, SequenceStep
from pipeline.booking.models import BookingPage, TeamBookingPage
from pipeline.booking.selectors import rep_week
from pipeline.models import Activity, ActivityAttachment, Stage
from pipeline.services import pipeline_ensure_default, task_create
from quotes.models import Issuer
from quotes.services import line_item_add, product_save, quote_create
from salesmarketing import events
from salesmarketing.events import event_emit
from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_create, api_key_revoke
from tests.pipeline.factories import make_deal
from tests.salesmarketing.factories import TeamFactory, UserFactory, notify

pytestmark = pytest.mark.django_db

# --- Roles and answers ---------------------------------------------------------------------------------------

ANON, MKT, OWNER, MATE, OTHER, MGR, ADMIN = (
    "anonymous",
    "marketer",
    "owner",
    "teammate",
    "outsider",
    "manager",
    "admin",
)
ROLES = (ANON, MKT, OWNER, MATE, OTHER, MGR, ADMIN)
LOGIN = "→login"
ADMIN_LOGIN = "→admin login"


def every(code) -> dict:
    return dict.fromkeys(ROLES, code)


def logged_in(code, **per_role) -> dict:
    """Anonymous visitors go to the login page; every user gets `code` unless named otherwise."""
    return {ANON: LOGIN, **dict.fromkeys(ROLES[1:], code), **per_role}


def editors(code) -> dict:
    """Marketing, managers and admins change it; reps get 403."""
    return logged_in(code, owner=403, teammate=403, outsider=403)


def deal_people(code) -> dict:
    """The owner's deal: the owner, their manager and admins; for everyone else it does not exist."""
    return logged_in(404, owner=code, manager=code, admin=code)


def handoff_people(code) -> dict:
    """The owner's handoff: its rep, the team's manager and admins act on it; marketing only watches."""
    return logged_in(404, owner=code, manager=code, admin=code)


def admins_only(code) -> dict:
    return logged_in(403, admin=code)


# --- The world every row runs against ------------------------------------------------------------------------


@dataclass
class World:
    users: dict
    lead: Lead
    other_team_lead: Lead
    objects: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end; each test (and each
    cell, see `_ask`) runs in a savepoint within it, so every cell starts from this same world."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


def _later_objects(*, owner, team, lead) -> dict:
    """The world's objects of the later features (booking pages, saved views and bulk jobs)."""
    # Meeting booking: the owner takes meetings any day and hour, so a free slot exists whenever the test runs.
    booking_page = BookingPage.objects.create(
        user=owner, slug="perm-owner", day_start=dt.time(0), day_end=dt.time(23, 30), weekdays="1234567",
        notice_hours=0, days_ahead=14,
    )  # fmt: skip
    team_booking_page = TeamBookingPage.objects.create(team=team, slug="perm-team")
    Company.objects.filter(pk=lead.company_id).update(owner=owner)  # the owner's account (companies' owners)
    # saved views and bulk jobs (#19): the owner's private view and a job the owner ran
    saved_view = SavedView.objects.create(owner=owner, name="自分の見込", query="owner=me")
    bulk_job = BulkJob.objects.create(
        created_by=owner, action="lifecycle", params={"stage": "lead", "reason": "見直し"}, lead_ids=[lead.pk]
    )
    return {
        "booking_page": booking_page,
        "team_booking_page": team_booking_page,
        "saved_view": saved_view,
        "bulk_job": bulk_job,
    }


def _build_world() -> World:
    sales = TeamFactory(name="営業一課")
    users = {
        OWNER: UserFactory(username="owner", display_name="担当 太郎", role=User.Role.SALES, team=sales),
        MATE: UserFactory(username="teammate", display_name="同僚 花子", role=User.Role.SALES, team=sales),
        OTHER: UserFactory(
            username="outsider", role=User.Role.SALES, team=TeamFactory(name="営業二課"), display_name="他課"
        ),
        MGR: UserFactory(username="manager", display_name="課長", role=User.Role.MANAGER, team=sales),
        MKT: UserFactory(
            username="marketer", role=User.Role.MARKETING, team=TeamFactory(name="マーケ", kind="marketing")
        ),
        ADMIN: UserFactory(
            username="admin", role=User.Role.ADMIN, team=None, is_staff=True, is_superuser=True
        ),
    }
    sales.manager = users[MGR]
    sales.save()
    owner = users[OWNER]

    company = company_resolve(name="株式会社権限", domain="kengen.example.jp")
    lead, _ = lead_upsert(email="lead@kengen.example.jp", source="manual", company=company, name="見込 一郎")
    other_company = company_resolve(name="株式会社他課", domain="other.example.jp")
    other_lead, _ = lead_upsert(
        email="lead@other.example.jp", source="manual", name="他課の見込", company=other_company
    )
    # Owners come from the handoff flow (tested in tests/leads); here only who owns what matters.
    Lead.objects.filter(pk=lead.pk).update(owner=owner)
    Lead.objects.filter(pk=other_lead.pk).update(owner=users[OTHER])

    pipeline = pipeline_ensure_default()
    stages = {s.name_en: s for s in Stage.objects.filter(pipeline=pipeline)}
    deal = make_deal(owner=owner, company=company, contact=lead, name="権限 商談")
    task = task_create(deal=deal, title="電話", due_date=deal.expected_close_date, by=owner)
    now = timezone.now()
    handoff = Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=sales,
        state=Handoff.State.ASSIGNED,
        mql_at=now,
        assigned_at=now,
        sla_due_at=now + dt.timedelta(hours=4),
        reason="デモ依頼",
    )
    campaign = Campaign.objects.create(
        name="権限ウェビナー", channel=Campaign.Channel.WEBINAR, utm_campaign="perm"
    )
    cost = cost_add(campaign=campaign, date=dt.date(2026, 4, 1), amount=100_000)
    persona = Persona.objects.create(name="情シス部長")
    persona_rule = PersonaRule.objects.create(persona=persona, title_contains="部長", priority=100)
    group = ScoringGroup.objects.create(kind="fit", name="役職", cap=30)
    rule = ScoringRule.objects.create(
        kind="fit", name="部長", group=group, points=10, field="title", operator="contains", value="部長"
    )
    job = import_job_create(
        content="メールアドレス,氏名\nimport@example.jp,取込 太郎\n".encode(),
        file_name="list.csv",
        user=users[MKT],
    )
    failed_job = import_job_run(
        job=import_job_create(
            content="メールアドレス,氏名\nnot-an-address,取込 次郎\n".encode(),
            file_name="bad.csv",
            user=users[MKT],
        ),
        mapping={0: "email", 1: "name"},
        touch_type="list_import",
        lead_source="import",
    )
    item = action_item_create(
        title="失注理由を共有",
        owner=owner,
        due_date=dt.date(2026, 12, 1),
        week=Period.last_complete_week(),
        by=users[MGR],
    )
    key, _plain = api_key_create(name="revoke me", source="crm", scopes=["events:write"])
    notify(recipient=owner, title="お知らせ", url="/leads/handoffs/")
    endpoint = FormEndpoint.objects.create(name="資料請求")
    segment = Segment.objects.create(name="準顕在層", rules={"op": "and", "rules": []})  # nurture (#18)
    static_segment = Segment.objects.create(name="展示会リスト", kind="static")
    mail_template = EmailTemplate.objects.create(name="月刊", subject_ja="件名", text_ja="本文")
    mail_segment = Segment.objects.create(name="購読者", kind=SegmentKind.STATIC)
    mail_broadcast = Broadcast.objects.create(
        name="12月号", template=mail_template, segment=mail_segment, campaign=campaign, throttle_per_minute=60
    )
    # quotes (#23): a deal of the owner's with a line item and a draft quote, and a product
    Issuer.objects.create(is_default=True, name="権限商事")
    product = product_save(
        code="PERM-1", name_ja="権限製品", unit_price=1000, unit="set", tax_category="standard"
    )
    quote_deal = make_deal(owner=owner, company=company, contact=lead, name="権限 見積")
    line_item = line_item_add(deal=quote_deal, by=owner, description="権限明細", unit_price=1000)
    quote = quote_create(deal=quote_deal, by=owner)
    # An e-mail logged on the owner's deal with a file (pipeline.mailbox)
    mail_activity = Activity.objects.create(deal=deal, type="email", subject="資料送付", created_by=owner)
    attachment = ActivityAttachment.objects.create(
        activity=mail_activity, filename="資料.pdf", content_type="application/pdf", size=3, data=b"pdf"
    )
    sequence = Sequence.objects.create(name="ステップ")  # nurture sequences (#18)
    sequence_step = SequenceStep.objects.create(sequence=sequence, position=1, template=mail_template)
    enrolment = Enrolment.objects.create(
        sequence=sequence, lead=lead, source="manual", enrolled_at=timezone.now(), current_step=sequence_step
    )
    # integrations (#24): a webhook with one delivery
    webhook, _secret = subscription_create(
        name="権限フック", url="https://93.184.215.14/hook", kinds=[events.DEAL_WON], by=users[ADMIN]
    )
    webhook_event = event_emit(kind=events.DEAL_WON, subject=("deal", deal.pk), payload={"deal_id": deal.pk})
    webhook_delivery = WebhookDelivery.objects.create(
        event=webhook_event,
        subscription=webhook,
        subject_key=f"deal:{deal.pk}",
        state="failed",
        next_attempt_at=timezone.now(),
        give_up_at=timezone.now(),
    )
    later = _later_objects(owner=owner, team=sales, lead=lead)
    custom_field = FieldDefinition.objects.create(
        object_type="lead", key="budget", label_ja="予算", label_en="Budget", field_type="number"
    )
    return World(
        users=users,
        lead=lead,
        other_team_lead=other_lead,
        objects={
            "company": company,
            "other_company": other_company,
            "deal": deal,
            "task": task,
            "attachment": attachment,
            "stages": stages,
            "handoff": handoff,
            "team": sales,
            "campaign": campaign,
            "cost": cost,
            "persona": persona,
            "persona_rule": persona_rule,
            "group": group,
            "rule": rule,
            "job": job,
            "failed_job": failed_job,
            "item": item,
            "key": key,
            "endpoint": endpoint,
            "segment": segment,
            "static_segment": static_segment,
            "mail_template": mail_template,
            "mail_broadcast": mail_broadcast,
            "product": product,
            "quote_deal": quote_deal,
            "line_item": line_item,
            "quote": quote,
            "sequence": sequence,
            "sequence_step": sequence_step,
            "enrolment": enrolment,
            "webhook": webhook,
            "webhook_delivery": webhook_delivery,
            **later,
            "custom_field": custom_field,
        },
    )


def free_slot(world: World) -> dict:
    """The booking form for the owner's first free slot from tomorrow (a different address per cell is not
    needed: each cell is rolled back)."""
    week = rep_week(world.booking_page, first=timezone.localdate() + dt.timedelta(days=1), now=timezone.now())
    slot = next(s for _day, slots in week.days for s in slots)
    return {"slot": slot.isoformat(), "name": "予約 太郎", "email": "booker@example.jp"}


# --- The matrix: pages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    expect: dict
    method: str = "get"
    kwargs: Callable[[World], dict] = lambda w: {}
    data: Callable[[World], dict] = lambda w: {}
    query: Callable[[World], str] = lambda w: ""
    path: str = ""  # for a pattern without a name: `name` is its route, `path` a URL it serves
    # An HTMX-only partial answers its page's readers 200 with HTMX where a plain request is sent to the page
    # (302): the same people either way, which test_htmx_partials_answer_as_their_pages_do checks.
    htmx_expect: dict | None = None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"

    def url(self, world: World) -> str:
        url = self.path or reverse(self.name, kwargs=self.kwargs(world))
        query = self.query(world)
        return f"{url}?{query}" if query else url


def pk(attr: str, name: str = "pk") -> Callable[[World], dict]:
    return lambda w: {name: getattr(w, attr).pk}


PAGES = [
    # salesmarketing: shell, accounts, notifications, settings
    Probe("dashboard", logged_in(200)),
    Probe("healthz", every(200)),
    Probe("notifications", logged_in(200)),
    Probe("notifications_read", logged_in(200), "post"),
    Probe("login", logged_in(302, anonymous=200)),  # a logged-in user is sent on to the dashboard
    Probe("logout", every(LOGIN), "post"),  # to the login page, logged in or not
    Probe("password_change", logged_in(200)),
    Probe("password_change_done", logged_in(200)),
    Probe("set_language", every(302), "post", data=lambda w: {"language": "en", "next": "/"}),
    Probe("api_keys:list", admins_only(200)),
    Probe("api_keys:revoke", admins_only(302), "post", kwargs=pk("key")),
    # custom fields of leads, companies and deals: admins define them (everyone sees the values)
    Probe("custom_fields:list", admins_only(200)),
    Probe("custom_fields:new", admins_only(200)),
    Probe("custom_fields:edit", admins_only(200), kwargs=pk("custom_field")),
    Probe("custom_fields:archive", admins_only(302), "post", kwargs=pk("custom_field")),
    # integrations: webhooks and team chat, admins only
    Probe("integrations:webhooks", admins_only(200)),
    Probe("integrations:webhook_detail", admins_only(200), kwargs=pk("webhook")),
    Probe("integrations:webhook_toggle", admins_only(302), "post", kwargs=pk("webhook")),
    Probe("integrations:webhook_test", admins_only(302), "post", kwargs=pk("webhook")),
    Probe("integrations:redeliver", admins_only(302), "post", kwargs=pk("webhook_delivery")),
    Probe("integrations:chat", admins_only(200)),
    Probe("integrations:chat_edit", admins_only(200), kwargs=pk("team", "team_pk")),
    # a user's own IMAP mailbox: every user, their own only (no id in the URL)
    Probe("integrations:mailbox", logged_in(200)),
    Probe("integrations:mailbox_disconnect", logged_in(302), "post"),
    # leads
    Probe("leads:list", logged_in(200)),
    Probe("leads:export", logged_in(200)),
    Probe("leads:detail", logged_in(200, outsider=404), kwargs=pk("lead")),
    # Taking a public form's submitted values into the lead: whoever may see the lead.
    Probe("leads:accept_submitted", logged_in(302, outsider=404), "post", kwargs=pk("lead")),
    # Personal data (export, erase): admins and the marketing team's managers, of the leads they can see.
    Probe("leads:privacy_export", logged_in(403, outsider=404, admin=200), kwargs=pk("lead")),
    Probe("leads:privacy_erase", logged_in(403, outsider=404, admin=200), kwargs=pk("lead")),
    Probe("leads:company_detail", logged_in(200, outsider=404), kwargs=pk("company")),
    # Records people keep (#19): forms for whoever may see the record; new ones for everybody.
    Probe("leads:new", logged_in(200)),
    Probe("leads:business_card", logged_in(200)),
    Probe("leads:edit", logged_in(200, outsider=404), kwargs=pk("lead")),
    Probe(
        "leads:lifecycle",
        logged_in(302, outsider=404),
        "post",
        kwargs=pk("lead"),
        data=lambda w: {"stage": "disqualified", "reason": "競合の社員"},
    ),
    Probe("leads:company_list", logged_in(200)),
    # Saved views and bulk jobs (#19): a view is renamed or deleted by its owner only (404 for everyone else); a
    # job's page is its author's and the admins'; the bulk form takes anyone's picked rows (the job then applies
    # the action only to the leads its author sees).
    Probe("leads:saved_views", logged_in(200)),
    Probe(
        "leads:saved_view_new", logged_in(302), "post", data=lambda w: {"name": "新しい見方", "query": "q=a"}
    ),
    Probe(
        "leads:saved_view_update",
        logged_in(404, owner=302),
        "post",
        kwargs=pk("saved_view"),
        data=lambda w: {"name": "改名", "sharing": "private"},
    ),
    Probe("leads:saved_view_delete", logged_in(404, owner=302), "post", kwargs=pk("saved_view")),
    Probe("leads:bulk_jobs", logged_in(200)),
    Probe("leads:bulk_new", logged_in(200), "post", data=lambda w: {"lead": [w.lead.pk]}),
    Probe("leads:bulk_job", logged_in(404, owner=200, admin=200), kwargs=pk("bulk_job")),
    # The search: everyone logged in; each finds only what they may see (tests/leads/test_search.py).
    Probe("search:page", logged_in(200), data=lambda w: {"q": "テスト"}),
    Probe("leads:company_new", logged_in(200)),
    Probe("leads:company_edit", logged_in(200, outsider=404), kwargs=pk("company")),
    # Duplicates and merge (#19): the queue is for marketing, managers and admins; a merge screen for whoever
    # sees both records (here two teams' leads and companies: a rep sees one of them at most).
    Probe("leads:duplicates", editors(200)),
    Probe(
        "leads:duplicate_dismiss",
        editors(302),
        "post",
        data=lambda w: {"kind": "lead", "low": w.lead.pk, "high": w.other_team_lead.pk},
    ),
    Probe(
        "leads:lead_merge",
        logged_in(404, marketer=200, manager=200, admin=200),
        kwargs=lambda w: {"pk": w.lead.pk, "other": w.other_team_lead.pk},
    ),
    Probe(
        "leads:company_merge",
        logged_in(404, marketer=200, manager=200, admin=200),
        kwargs=lambda w: {"pk": w.company.pk, "other": w.other_company.pk},
    ),
    Probe("leads:scoring", logged_in(200)),
    Probe("leads:scoring_progress", logged_in(200)),
    Probe(
        "leads:scoring_thresholds",
        editors(302),
        "post",
        data=lambda w: {"fit_threshold": 20, "total_threshold": 60},
    ),
    Probe("leads:scoring_rule_new", editors(200)),
    Probe("leads:scoring_rule", editors(200), kwargs=pk("rule")),
    Probe("leads:scoring_group", editors(302), "post", kwargs=pk("group"), data=lambda w: {"cap": 40}),
    Probe("leads:handoffs", logged_in(200)),
    Probe("leads:handoff_touch", handoff_people(302), "post", kwargs=pk("handoff")),
    Probe("leads:handoff_accept", handoff_people(302), "post", kwargs=pk("handoff")),
    Probe(
        "leads:handoff_reject",
        handoff_people(302),
        "post",
        kwargs=pk("handoff"),
        data=lambda w: {"reason": "not_a_fit"},
    ),
    Probe(  # managers and admins assign; the rep acting on it may not choose who gets it
        "leads:handoff_assign",
        handoff_people(302) | {OWNER: 403},
        "post",
        kwargs=pk("handoff"),
        data=lambda w: {"rep": w.users[MATE].pk},
    ),
    # Undo: only the one who decided, within seconds (tests/leads/test_handoff_undo.py); here the access check.
    Probe("leads:handoff_undo", handoff_people(302), "post", kwargs=pk("handoff")),
    # A lead's owner: managers and admins change it, the rep who owns it hands it on; the teammate who does not
    # own it and marketing may not (403); another team's rep does not see the lead (404).
    Probe(
        "leads:owner_change",
        logged_in(403, owner=200, outsider=404, manager=200, admin=200),
        kwargs=pk("lead"),
    ),
    # A company's owner: the same rules as a lead's (the world's company is the owner's).
    Probe(
        "leads:company_owner_change",
        logged_in(403, owner=200, outsider=404, manager=200, admin=200),
        kwargs=pk("company"),
    ),
    # Teams: the manager of the team (with one team, the list sends them to it) and admins; everyone else 403.
    Probe("leads:teams", logged_in(403, manager=302, admin=200)),
    Probe("leads:team", logged_in(403, manager=200, admin=200), kwargs=pk("team")),
    Probe(
        "leads:team_rep",
        logged_in(403, manager=302, admin=302),
        "post",
        kwargs=lambda w: {"pk": w.team.pk, "rep_pk": w.users[OWNER].pk},
        data=lambda w: {
            f"rep{w.users[OWNER].pk}-away_until": "",
            f"rep{w.users[OWNER].pk}-handoff_capacity": "5",
        },
    ),
    Probe(
        "leads:team_assign",
        logged_in(403, manager=302, admin=302),
        "post",
        kwargs=lambda w: {"pk": w.team.pk, "handoff_pk": w.handoff.pk},
        data=lambda w: {"rep": w.users[MATE].pk},
    ),
    Probe("leads:import", editors(200)),
    Probe("leads:import_detail", editors(200), kwargs=pk("job")),
    Probe(
        "leads:import_run", editors(400), "post", kwargs=pk("job")
    ),  # allowed; the empty mapping is invalid
    Probe("leads:import_failed_rows", editors(200), kwargs=pk("failed_job")),
    # campaigns and personas
    Probe("campaigns:list", logged_in(200)),
    Probe("campaigns:create", editors(200)),
    Probe("campaigns:dashboard", logged_in(200)),
    Probe("campaigns:cost_import", editors(200)),
    Probe("campaigns:detail", logged_in(200), kwargs=pk("campaign")),
    Probe("campaigns:edit", editors(200), kwargs=pk("campaign")),
    Probe(
        "campaigns:cost_add",
        editors(302),
        "post",
        kwargs=pk("campaign"),
        data=lambda w: {"date": "2026-04-02", "amount": "5000"},
    ),
    Probe(
        "campaigns:cost_delete",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.campaign.pk, "cost_pk": w.cost.pk},
    ),
    Probe("campaigns:persona_list", logged_in(200)),
    Probe("campaigns:persona_create", editors(200)),
    Probe("campaigns:personas_rematch", editors(302), "post"),
    Probe("campaigns:persona_detail", logged_in(200), kwargs=pk("persona")),
    Probe("campaigns:persona_edit", editors(200), kwargs=pk("persona")),
    Probe("campaigns:rule_add", editors(200), "post", kwargs=pk("persona")),  # allowed; shown with its errors
    Probe(
        "campaigns:rule_edit",
        editors(200),
        "post",
        kwargs=lambda w: {"pk": w.persona.pk, "rule_pk": w.persona_rule.pk},
    ),
    Probe(
        "campaigns:rule_delete",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.persona.pk, "rule_pk": w.persona_rule.pk},
    ),
    Probe(
        "campaigns:persona_lead_add",
        editors(302),
        "post",
        kwargs=pk("persona"),
        data=lambda w: {"email": w.lead.email},
    ),
    Probe(
        "campaigns:lead_persona",
        editors(302),
        "post",
        kwargs=pk("lead", "lead_pk"),
        data=lambda w: {"persona": str(w.persona.pk)},
    ),
    # pipeline
    Probe("pipeline:board", logged_in(200)),
    Probe("pipeline:forecast", logged_in(200)),
    Probe("pipeline:deal_new", logged_in(200, marketer=403)),
    Probe("pipeline:deal_detail", deal_people(200) | {MKT: 200}, kwargs=pk("deal")),
    Probe("pipeline:deal_edit", deal_people(200), "post", kwargs=pk("deal")),  # allowed; shown with errors
    Probe(  # without HTMX: to the deal page
        "pipeline:deal_overview",
        deal_people(302) | {MKT: 302},
        kwargs=pk("deal"),
        htmx_expect=deal_people(200) | {MKT: 200},
    ),
    Probe(
        "pipeline:deal_move",
        deal_people(302),
        "post",
        kwargs=pk("deal"),
        data=lambda w: {"stage": w.stages["Proposal"].pk},
    ),
    Probe(
        "pipeline:deal_close",
        deal_people(200),
        kwargs=pk("deal"),
        query=lambda w: f"stage={w.stages['Won'].pk}",
    ),
    Probe("pipeline:activity_create", deal_people(200), "post", kwargs=pk("deal")),  # allowed; with errors
    Probe("pipeline:task_create", deal_people(200), "post", kwargs=pk("deal")),  # allowed; with errors
    Probe("pipeline:task_done", deal_people(302), "post", kwargs=pk("task")),
    Probe("pipeline:lead_activity_create", logged_in(200, outsider=404), kwargs=pk("lead", "lead_pk")),
    # reminders: a user's own tasks only; the world's to-do is the owner's (anyone else: 404)
    Probe("reminders:my_tasks", logged_in(200)),
    Probe("reminders:notification_settings", logged_in(200)),
    Probe("reminders:item", logged_in(404, owner=200), kwargs=lambda w: {"kind": "task", "pk": w.task.pk}),
    Probe(
        "reminders:item_snooze",
        logged_in(404, owner=302),
        "post",
        kwargs=lambda w: {"kind": "task", "pk": w.task.pk},
        data=lambda w: {"until": "hour"},
    ),
    Probe(
        "reminders:item_done",
        logged_in(404, owner=302),
        "post",
        kwargs=lambda w: {"kind": "task", "pk": w.task.pk},
    ),
    Probe(
        "pipeline:activity_attachment",
        deal_people(200) | {MKT: 200},
        kwargs=lambda w: {"pk": w.attachment.activity_id, "attachment_pk": w.attachment.pk},
    ),
    # quotes: products are read by everyone and changed by managers and admins; a deal's items and quotes
    # follow the deal (marketing reads them, changes none)
    Probe("quotes:product_list", logged_in(200)),
    Probe("quotes:product_new", logged_in(403, manager=200, admin=200)),
    Probe("quotes:product_import", logged_in(403, manager=200, admin=200)),
    Probe("quotes:product_edit", logged_in(403, manager=200, admin=200), kwargs=pk("product")),
    Probe("quotes:item_add", deal_people(302), "post", kwargs=pk("quote_deal", "deal_pk")),  # with errors
    Probe("quotes:item_remove", deal_people(302), "post", kwargs=pk("line_item")),
    # without HTMX: to the deal page with the row as a form; a post with errors goes back there
    Probe("quotes:item_edit", deal_people(302), kwargs=pk("line_item"), htmx_expect=deal_people(200)),
    Probe("quotes:item_edit", deal_people(302), "post", kwargs=pk("line_item")),
    Probe(
        "quotes:items_section",
        deal_people(302) | {MKT: 302},
        kwargs=pk("quote_deal", "deal_pk"),
        htmx_expect=deal_people(200) | {MKT: 200},
    ),
    Probe("quotes:quote_new", deal_people(302), "post", kwargs=pk("quote_deal", "deal_pk")),
    Probe("quotes:quote_detail", deal_people(200) | {MKT: 200}, kwargs=pk("quote")),
    Probe("quotes:quote_pdf", deal_people(200) | {MKT: 200}, kwargs=pk("quote")),
    Probe("quotes:quote_edit", deal_people(422), "post", kwargs=pk("quote")),  # allowed; shown with errors
    Probe(
        "quotes:quote_action",
        deal_people(302),
        "post",
        kwargs=lambda w: {"pk": w.quote.pk, "action": "issue"},
    ),
    # nurture: segments (everyone looks; marketing, managers and admins build them)
    Probe("nurture:segment_list", logged_in(200)),
    Probe("nurture:segment_create", editors(200)),
    Probe("nurture:segment_live_count", editors(200), "post", data=lambda w: {"top_op": "and"}),
    Probe("nurture:segment_add_leads", editors(200), "post"),  # nothing selected: asks again
    Probe("nurture:segment_detail", logged_in(200), kwargs=pk("segment")),
    Probe("nurture:segment_edit", editors(200), kwargs=pk("segment")),
    Probe("nurture:segment_count", logged_in(200), kwargs=pk("segment")),
    Probe("nurture:segment_delete", editors(302), "post", kwargs=pk("segment")),
    Probe("nurture:segment_import", editors(422), "post", kwargs=pk("static_segment")),  # no file
    Probe("nurture:segment_members_remove", editors(302), "post", kwargs=pk("static_segment")),
    # kpis
    Probe("kpis:weekly_review", logged_in(200)),
    Probe("kpis:action_item_create", logged_in(302), "post", data=lambda w: {"title": "次回までに"}),
    Probe(  # an item for the owner: the owner, managers and admins only
        "kpis:action_item_create",
        logged_in(302, marketer=403, teammate=403, outsider=403),
        "post",
        data=lambda w: {"title": "次回までに", "owner": w.users[OWNER].pk, "due_date": "2026-12-01"},
    ),
    Probe(
        "kpis:action_item_done",
        logged_in(302, marketer=403, teammate=403, outsider=403),
        "post",
        kwargs=pk("item"),
        data=lambda w: {"done": "1"},
    ),
    Probe("kpis:targets", logged_in(200)),
    Probe("kpis:targets", logged_in(302, marketer=403, owner=403, teammate=403, outsider=403), "post"),
    Probe("kpis:manual_values", logged_in(200)),
    Probe(
        "kpis:manual_values", logged_in(200, owner=403, teammate=403, outsider=403), "post"
    ),  # allowed: the empty form comes back with its errors
    Probe("kpis:drilldown", logged_in(200), kwargs=lambda w: {"key": KPIS[0].key}),
    Probe("kpis:definitions", logged_in(200)),
    # the API's own pages; its endpoints are in API_PROBES
    Probe("api:openapi-json", logged_in(200)),
    Probe("api:openapi-view", logged_in(200)),
    Probe("api:api-root", every(404)),
    Probe("api:api-not-found", every(404), path="/api/v1/no-such-endpoint"),  # a JSON 404 for anyone
    # what customers' websites and emails call: the same answer for everyone
    Probe(
        "capture:form_submit",
        every(200),
        "post",
        kwargs=lambda w: {"site_key": w.endpoint.site_key},
        data=lambda w: {"email": "visitor@example.jp", "name": "訪問 者"},
    ),
    Probe(
        "capture:collect",
        every(204),
        "post",
        data=lambda w: {"vid": "v-perm-1", "url": "https://www.example.jp/pricing", "type": "page_view"},
    ),
    Probe(
        "capture:unsubscribe",
        every(200),
        kwargs=lambda w: {"token": unsubscribe_token(lead_id=w.lead.pk)},
    ),
    Probe(
        "capture:email_open",
        every(200),
        kwargs=lambda w: {"token": email_open_token(lead_id=w.lead.pk, message_id="m1")},
    ),
    Probe(
        "capture:email_click",
        every(302),
        kwargs=lambda w: {
            "token": email_click_token(lead_id=w.lead.pk, url="https://www.example.jp/", message_id="m1")
        },
        query=lambda w: "u=https%3A%2F%2Fwww.example.jp%2F",
    ),
    # Meeting booking (pipeline.booking): public pages, like the capture endpoints; a booking answers 201
    Probe("booking:rep", every(200), kwargs=lambda w: {"slug": w.booking_page.slug}),
    Probe("booking:rep", every(201), "post", kwargs=lambda w: {"slug": w.booking_page.slug}, data=free_slot),
    Probe("booking:team", every(200), kwargs=lambda w: {"slug": w.team_booking_page.slug}),
    Probe(
        "booking:team",
        every(201),
        "post",
        kwargs=lambda w: {"slug": w.team_booking_page.slug},
        data=free_slot,
    ),
    # …and their settings: each user their own page (and a manager their teams'); an invalid form comes back
    Probe("booking:settings", logged_in(200)),
    Probe("booking:settings", logged_in(422), "post", data=lambda w: {"which": "own"}),
    # Email providers' webhooks (salesmarketing.esp): not there until ANYMAIL_WEBHOOK_SECRET is set, for anyone.
    *[Probe(f"anymail:{p.name}", every(404), "post") for p in anymail_urls.urlpatterns],
    # Email (nurture.mail): marketing, managers and admins; a test send and a refused action redirect back.
    Probe("nurture:mail_sender", editors(200)),
    Probe("nurture:mail_templates", editors(200)),
    Probe("nurture:mail_template_new", editors(200)),
    Probe("nurture:mail_template_edit", editors(200), kwargs=pk("mail_template")),
    Probe("nurture:mail_template_preview", editors(200), kwargs=pk("mail_template")),
    Probe("nurture:mail_template_test", editors(302), "post", kwargs=pk("mail_template")),
    Probe("nurture:mail_broadcasts", editors(200)),
    Probe("nurture:mail_broadcast_new", editors(200)),
    Probe("nurture:mail_broadcast_detail", editors(200), kwargs=pk("mail_broadcast")),
    Probe(
        "nurture:mail_broadcast_action",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.mail_broadcast.pk, "action": "pause"},
    ),
    # Sequences (nurture.sequences): as the email pages; a form post redirects back with its message.
    Probe("nurture:sequence_list", editors(200)),
    Probe("nurture:sequence_new", editors(200)),
    Probe("nurture:sequence_enrol_selection", editors(200), "post"),  # nothing selected: asks again
    Probe("nurture:sequence_enrol_lead", editors(200), kwargs=pk("lead", "lead_pk")),
    Probe("nurture:sequence_detail", editors(200), kwargs=pk("sequence")),
    Probe("nurture:sequence_edit", editors(200), kwargs=pk("sequence")),
    Probe("nurture:sequence_step_add", editors(302), "post", kwargs=pk("sequence")),  # invalid: back with it
    Probe(
        "nurture:sequence_step_action",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.sequence.pk, "step_pk": w.sequence_step.pk, "action": "down"},
    ),
    Probe(
        "nurture:sequence_status",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.sequence.pk, "action": "pause"},
    ),
    Probe("nurture:sequence_enrol", editors(302), "post", kwargs=pk("sequence")),  # no lead: back with it
    Probe(
        "nurture:sequence_enrolment_remove",
        editors(302),
        "post",
        kwargs=lambda w: {"pk": w.sequence.pk, "enrolment_pk": w.enrolment.pk},
    ),
]


def _outcome(response) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
    return response.status_code


def _ask(world: World, role: str, method: str, url: str, data: dict, **headers) -> int | str:
    """One request as `role`, undone afterwards so every cell starts from the same world."""
    savepoint = transaction.savepoint()
    try:
        cache.clear()  # rate-limit counters and cached board figures
        client = Client()
        if role in world.users:
            client.force_login(world.users[role])
        return _outcome(getattr(client, method)(url, data, **headers))
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.parametrize("probe", PAGES, ids=str)
def test_page_access(world, probe: Probe):
    url = probe.url(world)
    data = probe.data(world)
    answers = {role: _ask(world, role, probe.method, url, data) for role in ROLES}
    assert answers == probe.expect, f"{probe.method.upper()} {url}"


@pytest.mark.parametrize("probe", [p for p in PAGES if p.method == "get"], ids=str)
def test_htmx_partials_answer_as_their_pages_do(world, probe: Probe):
    """An HTMX request renders a partial of the page; it must not skip the page's access check."""
    url = probe.url(world)
    answers = {
        role: _ask(world, role, "get", url, probe.data(world), HTTP_HX_REQUEST="true") for role in ROLES
    }
    assert answers == (probe.htmx_expect or probe.expect), f"HTMX GET {url}"


# --- The matrix: the JSON API ----------------------------------------------------------------------------------

(
    NO_KEY,
    NO_SCOPES,
    WRONG_SCOPE,
    INTEGRATION,
    AS_OWNER,
    AS_MATE,
    AS_OTHER,
    REVOKED,
    DELETED,
    DEACTIVATED,
    SESSION,
) = (
    "no key",
    "key with no scopes",
    "key without the scope",
    "integration key (no user)",
    "key acting as the owner",
    "key acting as a teammate",
    "key acting as another team's rep",
    "revoked key",
    "key of a deleted rep",  # once deleting a user left the key without one: an integration's, seeing all
    "key of a deactivated admin",
    "admin's session, no key",
)
CALLERS = (
    NO_KEY,
    NO_SCOPES,
    WRONG_SCOPE,
    INTEGRATION,
    AS_OWNER,
    AS_MATE,
    AS_OTHER,
    REVOKED,
    DELETED,
    DEACTIVATED,
    SESSION,
)
# POST /events answers 202 however many of its events it stored; these rows tell the two apart.
STORED, REJECTED = "202, stored", "202, rejected"


def keyed(**by_caller) -> dict:
    """401 without a usable key, 403 without the scope, then the given answers for the keys that have it."""
    answers = {
        NO_KEY: 401,
        NO_SCOPES: 403,
        WRONG_SCOPE: 403,
        REVOKED: 401,
        DELETED: 401,
        DEACTIVATED: 401,
        SESSION: 401,
    }
    names = {"integration": INTEGRATION, "owner": AS_OWNER, "teammate": AS_MATE, "outsider": AS_OTHER}
    return {**answers, **{names[k]: v for k, v in by_caller.items()}}


def all_keys(code) -> dict:
    return keyed(integration=code, owner=code, teammate=code, outsider=code)


def MAIL_KEYS(code) -> dict:  # noqa: N802 - reads as a row's column, like keyed()
    return keyed(integration=code, owner=403, teammate=403, outsider=403)


def any_key(code) -> dict:
    """Lookups: any usable key, whatever its scopes."""
    return {**all_keys(code), NO_SCOPES: code, WRONG_SCOPE: code}


EVERY_CALLER_405 = dict.fromkeys(CALLERS, 405)  # the JSON 405 for a method a path does not serve, before auth


@dataclass(frozen=True)
class ApiProbe:
    name: str
    method: str
    scope: str
    expect: dict
    kwargs: Callable[[World], dict] = lambda w: {}
    body: Callable[[World], dict | None] = lambda w: None
    query: str = ""
    label: str = ""  # tells apart two rows of the same URL
    answer: Callable[[HttpResponse], object] = lambda response: response.status_code

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}" + (f" ({self.label})" if self.label else "")


def events_outcome(response: HttpResponse) -> object:
    if response.status_code != 202:
        return response.status_code
    return STORED if response.json()["accepted"] else REJECTED


API_PROBES = [
    ApiProbe(
        "api:events_create",
        "post",
        "events:write",
        all_keys(202),
        body=lambda w: {"events": [{"id": "e1", "type": "page_view", "email": "ev@example.jp"}]},
    ),
    ApiProbe(
        "api:events_create",
        "post",
        "events:write",
        # An event on a lead the key's user may not see is rejected (it renamed and unsubscribed it).
        keyed(integration=STORED, owner=STORED, teammate=STORED, outsider=REJECTED),
        body=lambda w: {"events": [{"id": "e2", "type": "unsubscribe", "lead_id": w.lead.pk}]},
        label="the owner's lead by id",
        answer=events_outcome,
    ),
    ApiProbe(
        "api:events_create",
        "post",
        "events:write",
        keyed(integration=STORED, owner=STORED, teammate=STORED, outsider=REJECTED),
        body=lambda w: {"events": [{"id": "e3", "type": "form_submit", "email": w.lead.email, "title": "x"}]},
        label="the owner's lead by email",
        answer=events_outcome,
    ),
    ApiProbe("api:events_other_methods", "get", "", EVERY_CALLER_405),
    ApiProbe(
        "api:lead_create_or_update",
        "post",
        "leads:write",
        all_keys(201),
        body=lambda w: {"email": "new@example.jp", "name": "新規 見込"},
    ),
    ApiProbe(
        "api:lead_create_or_update",
        "post",
        "leads:write",
        # Upserting another team's lead by its email read and overwrote it.
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        body=lambda w: {"email": w.lead.email, "title": "上書き"},
        label="the owner's lead",
    ),
    ApiProbe("api:leads_other_methods", "put", "", EVERY_CALLER_405),
    # lists (#19 point 9): each applies the key's user's visibility; these rows check the scope, the tests in
    # tests/*/test_api_lists.py what each key lists
    ApiProbe("api:leads_list", "get", "leads:read", all_keys(200)),
    ApiProbe("api:companies_list", "get", "leads:read", all_keys(200)),
    ApiProbe(
        "api:company_read",
        "get",
        "leads:read",
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        kwargs=pk("company", "company_id"),
    ),
    ApiProbe(
        "api:company_create", "post", "leads:write", all_keys(201), body=lambda w: {"name": "株式会社API"}
    ),
    ApiProbe(
        "api:company_update",
        "patch",
        "leads:write",
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        kwargs=pk("company", "company_id"),
        body=lambda w: {"address": "東京都千代田区"},
    ),
    ApiProbe(
        "api:lead_read",
        "get",
        "leads:read",
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        kwargs=lambda w: {"lead_id": w.lead.pk},
    ),
    ApiProbe("api:lead_other_methods", "put", "", EVERY_CALLER_405, kwargs=lambda w: {"lead_id": w.lead.pk}),
    ApiProbe(
        "api:lead_export_api",
        "get",
        "leads:privacy",
        # The owner's and teammate's keys see the lead but may not hand out personal data.
        keyed(integration=200, owner=403, teammate=403, outsider=404),
        kwargs=lambda w: {"lead_id": w.lead.pk},
    ),
    ApiProbe(
        "api:lead_erase_api",
        "delete",
        "leads:privacy",
        keyed(integration=200, owner=403, teammate=403, outsider=404),
        kwargs=lambda w: {"lead_id": w.lead.pk},
    ),
    ApiProbe("api:list_handoffs", "get", "handoffs:write", all_keys(200)),
    ApiProbe(
        "api:accept",
        "post",
        "handoffs:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"handoff_id": w.handoff.pk},
    ),
    ApiProbe(
        "api:reject",
        "post",
        "handoffs:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"handoff_id": w.handoff.pk},
        body=lambda w: {"reason": "not_a_fit"},
    ),
    ApiProbe(
        "api:create_deal",
        "post",
        "deals:write",
        # A rep's key may not give deals to another rep (422, the owner_id field); the integration may.
        keyed(integration=201, owner=201, teammate=422, outsider=422),
        body=lambda w: {"name": "API 商談", "amount": 1000, "owner_id": w.users[OWNER].pk},
    ),
    ApiProbe(
        "api:create_deal",
        "post",
        "deals:write",
        # A rep's key attaches only a company the rep sees (one of their team's leads or their deals works there).
        keyed(integration=201, owner=422, teammate=422, outsider=201),
        body=lambda w: {
            "name": "他課の商談",
            "company_id": w.other_company.pk,
            "owner_id": w.users[OTHER].pk,
        },
        label="another team's company",
    ),
    ApiProbe(
        "api:get_deal",
        "get",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.deal.pk},
    ),
    ApiProbe(
        "api:update_deal",
        "patch",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.deal.pk},
        body=lambda w: {"next_step": "見積提出"},
    ),
    ApiProbe("api:list_deals", "get", "deals:write", all_keys(200)),
    ApiProbe("api:activities_list", "get", "activities:write", all_keys(200)),
    ApiProbe(
        "api:activities_create",
        "post",
        "activities:write",
        # On a lead the key's user does not see: 422 on lead_id, as a deal's contact_lead_id
        keyed(integration=201, owner=201, teammate=201, outsider=422),
        body=lambda w: {"type": "call", "subject": "架電", "lead_id": w.lead.pk},
    ),
    ApiProbe("api:pipelines_list", "get", "", any_key(200)),
    ApiProbe("api:stages_list", "get", "", any_key(200)),
    ApiProbe("api:users_list", "get", "", any_key(200)),
    ApiProbe("api:teams_list", "get", "", any_key(200)),
    # campaigns: shared like on the pages; costs added by marketing, managers, admins and integrations
    ApiProbe("api:campaigns_list", "get", "campaigns:read", all_keys(200)),
    ApiProbe(
        "api:campaign_read", "get", "campaigns:read", all_keys(200), kwargs=pk("campaign", "campaign_id")
    ),
    ApiProbe(
        "api:campaign_costs_list",
        "get",
        "campaigns:read",
        all_keys(200),
        kwargs=pk("campaign", "campaign_id"),
    ),
    ApiProbe(
        "api:campaign_costs_create",
        "post",
        "campaigns:write",
        keyed(integration=201, owner=403, teammate=403, outsider=403),
        kwargs=pk("campaign", "campaign_id"),
        body=lambda w: {"date": "2026-04-02", "amount": 1000},
    ),
    # quotes, with the deals' scope: products are changed by managers and admins (the reps' keys get 403); a
    # deal's items and quotes follow the deal; quotes are made by people (an integration's key gets 403)
    ApiProbe("api:list_products", "get", "deals:write", all_keys(200)),
    ApiProbe(
        "api:create_product",
        "post",
        "deals:write",
        keyed(integration=201, owner=403, teammate=403, outsider=403),
        body=lambda w: {
            "code": "API-1",
            "name_ja": "権限",
            "unit_price": 1,
            "unit": "set",
            "tax_category": "standard",
        },
    ),
    ApiProbe(
        "api:update_product",
        "patch",
        "deals:write",
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        kwargs=lambda w: {"product_id": w.product.pk},
        body=lambda w: {"active": True},
    ),
    ApiProbe(
        "api:list_deal_items",
        "get",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.quote_deal.pk},
    ),
    ApiProbe(
        "api:create_deal_item",
        "post",
        "deals:write",
        keyed(integration=201, owner=201, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.quote_deal.pk},
        body=lambda w: {"description": "権限明細 2", "unit_price": 1},
    ),
    ApiProbe(
        "api:update_deal_item",
        "patch",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"item_id": w.line_item.pk},
        body=lambda w: {"quantity": "2"},
    ),
    ApiProbe(
        "api:delete_deal_item",
        "delete",
        "deals:write",
        keyed(integration=204, owner=204, teammate=404, outsider=404),
        kwargs=lambda w: {"item_id": w.line_item.pk},
    ),
    ApiProbe(
        "api:create_quote",
        "post",
        "deals:write",
        keyed(integration=403, owner=201, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.quote_deal.pk},
        body=lambda w: {},
    ),
    ApiProbe(
        "api:update_quote",
        "patch",
        "deals:write",
        keyed(integration=403, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"quote_id": w.quote.pk},
        body=lambda w: {"notes": "権限"},
    ),
    ApiProbe(
        "api:quote_action",
        "post",
        "deals:write",
        keyed(integration=403, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"quote_id": w.quote.pk, "action": "issue"},
        body=lambda w: {},
    ),
    ApiProbe(
        "api:list_deal_quotes",
        "get",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"deal_id": w.quote_deal.pk},
    ),
    ApiProbe(
        "api:get_quote",
        "get",
        "deals:write",
        keyed(integration=200, owner=200, teammate=404, outsider=404),
        kwargs=lambda w: {"quote_id": w.quote.pk},
    ),
    ApiProbe("api:kpis", "get", "kpis:read", all_keys(200), query="week=2026-W47"),
    ApiProbe("api:manual_values_list", "get", "kpis:read", all_keys(200)),
    ApiProbe(
        "api:manual_values_set",
        "put",
        "kpis:write",
        # as on the values page: managers, admins and marketing enter them; the reps' keys get 403
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        body=lambda w: {"kpi": "market_size", "period_start": "2026-01-01", "value": 1000000},
    ),
    # nurture: segments; the reps' keys read them, only marketing, managers, admins and integrations write
    ApiProbe("api:segments_list", "get", "segments:read", all_keys(200)),
    ApiProbe(
        "api:segments_create",
        "post",
        "segments:write",
        keyed(integration=201, owner=403, teammate=403, outsider=403),
        body=lambda w: {"name": "API", "rules": {"op": "and", "rules": []}},
    ),
    ApiProbe(
        "api:segments_rules_count",
        "post",
        "segments:read",
        all_keys(200),
        body=lambda w: {"rules": {"op": "and", "rules": []}},
    ),
    ApiProbe("api:segments_read", "get", "segments:read", all_keys(200), kwargs=pk("segment", "segment_id")),
    ApiProbe(
        "api:segments_update",
        "patch",
        "segments:write",
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        kwargs=pk("segment", "segment_id"),
        body=lambda w: {"name": "改名"},
    ),
    ApiProbe(
        "api:segments_delete",
        "delete",
        "segments:write",
        keyed(integration=204, owner=403, teammate=403, outsider=403),
        kwargs=pk("segment", "segment_id"),
    ),
    ApiProbe("api:segments_count", "get", "segments:read", all_keys(200), kwargs=pk("segment", "segment_id")),
    ApiProbe(
        "api:segments_members", "get", "segments:read", all_keys(200), kwargs=pk("segment", "segment_id")
    ),
    ApiProbe(
        "api:segments_members_add",
        "post",
        "segments:write",
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        kwargs=pk("static_segment", "segment_id"),
        body=lambda w: {"lead_ids": [w.lead.pk]},
    ),
    ApiProbe(
        "api:segments_members_remove",
        "post",
        "segments:write",
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        kwargs=pk("static_segment", "segment_id"),
        body=lambda w: {"lead_ids": [w.lead.pk]},
    ),
    # nurture: sequences; the reps' keys list them and read their own team's leads' enrolments, never change them
    ApiProbe("api:sequences_list", "get", "segments:read", all_keys(200)),
    ApiProbe(  # the world's lead has no email consent: refused with the reason
        "api:sequences_enrol",
        "post",
        "segments:write",
        keyed(integration=409, owner=403, teammate=403, outsider=403),
        kwargs=pk("sequence", "sequence_id"),
        body=lambda w: {"lead_id": w.lead.pk},
    ),
    ApiProbe(
        "api:lead_enrolments",
        "get",
        "segments:read",
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        kwargs=pk("lead", "lead_id"),
    ),
    ApiProbe(  # a rep's key lists only its team's leads' enrolments: the outsider's page is empty, not refused
        "api:sequence_enrolments",
        "get",
        "segments:read",
        all_keys(200),
        kwargs=pk("sequence", "sequence_id"),
    ),
    ApiProbe(
        "api:enrolments_read",
        "get",
        "segments:read",
        keyed(integration=200, owner=200, teammate=200, outsider=404),
        kwargs=pk("enrolment", "enrolment_id"),
    ),
    ApiProbe(
        "api:enrolments_exit",
        "post",
        "segments:write",
        keyed(integration=200, owner=403, teammate=403, outsider=403),
        kwargs=pk("enrolment", "enrolment_id"),
    ),
    # nurture: email templates and broadcasts; marketing's, so the reps' keys are refused (403)
    ApiProbe("api:templates_list", "get", "segments:read", MAIL_KEYS(200)),
    ApiProbe(
        "api:templates_create",
        "post",
        "segments:write",
        MAIL_KEYS(201),
        body=lambda w: {"name": "API", "subject_ja": "件名", "text_ja": "本文"},
    ),
    ApiProbe(
        "api:templates_read",
        "get",
        "segments:read",
        MAIL_KEYS(200),
        kwargs=pk("mail_template", "template_id"),
    ),
    ApiProbe(
        "api:templates_update",
        "patch",
        "segments:write",
        MAIL_KEYS(200),
        kwargs=pk("mail_template", "template_id"),
        body=lambda w: {"name": "改名"},
    ),
    ApiProbe("api:broadcasts_list", "get", "segments:read", MAIL_KEYS(200)),
    ApiProbe(
        "api:broadcasts_create",
        "post",
        "segments:write",
        MAIL_KEYS(201),
        body=lambda w: {
            "name": "API",
            "template_id": w.mail_template.pk,
            "segment_id": w.mail_broadcast.segment_id,
            "campaign_id": w.campaign.pk,
        },
    ),
    ApiProbe(
        "api:broadcasts_read",
        "get",
        "segments:read",
        MAIL_KEYS(200),
        kwargs=pk("mail_broadcast", "broadcast_id"),
    ),
    ApiProbe(  # the world has no sender profile: refused with the reason
        "api:broadcasts_schedule",
        "post",
        "segments:write",
        MAIL_KEYS(409),
        kwargs=pk("mail_broadcast", "broadcast_id"),
        body=lambda w: {},
    ),
    ApiProbe(
        "api:broadcasts_action",
        "post",
        "segments:write",
        MAIL_KEYS(200),
        kwargs=lambda w: {"broadcast_id": w.mail_broadcast.pk, "action": "cancel"},
    ),
]
ALL_SCOPES = list(ApiKey.Scope.values)


def _bearer(world: World, caller: str, scope: str) -> dict:
    users = world.users
    if caller in (NO_KEY, SESSION):
        return {}
    if caller in (WRONG_SCOPE, NO_SCOPES):
        scopes = [s for s in ALL_SCOPES if s != scope] if caller == WRONG_SCOPE else []
        user = None
    elif caller == DELETED:
        scopes, user = ALL_SCOPES, UserFactory(role=User.Role.SALES, team=users[OTHER].team)
    elif caller == DEACTIVATED:
        scopes, user = ALL_SCOPES, UserFactory(role=User.Role.ADMIN, team=None, is_staff=True)
    else:
        scopes = ALL_SCOPES
        user = {AS_OWNER: users[OWNER], AS_MATE: users[MATE], AS_OTHER: users[OTHER]}.get(caller)
    key, plain = api_key_create(name=caller, source="perm", scopes=scopes, user=user)
    if caller == REVOKED:
        api_key_revoke(key=key)
    elif caller == DELETED:
        user.delete()
    elif caller == DEACTIVATED:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _call(world: World, caller: str, probe: ApiProbe, url: str) -> object:
    savepoint = transaction.savepoint()
    try:
        cache.clear()
        client = Client()
        if caller == SESSION:
            client.force_login(world.users[ADMIN])
        headers = _bearer(world, caller, probe.scope)
        body = probe.body(world)
        if body is None:
            response = getattr(client, probe.method)(url, **headers)
        else:
            response = getattr(client, probe.method)(url, body, content_type="application/json", **headers)
        assert response["Content-Type"].startswith("application/json"), (caller, url)
        return probe.answer(response)
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.parametrize("probe", API_PROBES, ids=str)
def test_api_access(world, probe: ApiProbe):
    url = reverse(probe.name, kwargs=probe.kwargs(world))
    if probe.query:
        url = f"{url}?{probe.query}"
    answers = {caller: _call(world, caller, probe, url) for caller in CALLERS}
    assert answers == probe.expect, f"{probe.method.upper()} {url}"


def test_a_key_acting_as_a_rep_lists_only_the_handoffs_the_rep_sees(world, client):
    other = Handoff.objects.create(
        lead=world.other_team_lead,
        owner=world.users[OTHER],
        team=world.users[OTHER].team,
        state=Handoff.State.ASSIGNED,
        mql_at=timezone.now(),
    )
    listed = {}
    for caller in (INTEGRATION, AS_OWNER, AS_OTHER):
        response = client.get("/api/v1/handoffs", **_bearer(world, caller, "handoffs:write"))
        listed[caller] = {h["id"] for h in response.json()["items"]}
    assert listed == {
        INTEGRATION: {world.handoff.pk, other.pk},
        AS_OWNER: {world.handoff.pk},
        AS_OTHER: {other.pk},
    }


# --- The Django admin: staff only ------------------------------------------------------------------------------

# What a staff admin gets per kind of admin URL; everyone else is sent to the admin's login page (ADMIN_LOGIN),
# except on the login page itself. A new admin page is covered by its kind; a new kind fails the test.
ADMIN_KINDS = {
    "index": 200,
    "app_list": 200,
    "changelist": 200,
    "add": 200,
    "change": 200,
    "history": 200,
    "delete": 200,
    "object": 302,  # /admin/<app>/<model>/<id>/ redirects to the change page
    "password": 200,  # a user's set-password page
    "password_change": 200,
    "password_change_done": 200,
    "jsi18n": 200,
    "autocomplete": 403,  # without a field to complete
    "view_on_site": 302,
    "catch_all": 404,
}
MODEL_KINDS = {"changelist", "add", "change", "history", "delete", "object", "password"}
ADMIN_SPECIAL = {
    # The login page answers everyone; a staff user already logged in is sent on to the admin.
    "login": {**dict.fromkeys(ROLES, 200), ADMIN: 302},
    # GET: logging out is a POST (405); a logged-in non-staff user is sent to the admin's index (and from there
    # to its login page).
    "logout": {**dict.fromkeys(ROLES, 302), ANON: ADMIN_LOGIN, ADMIN: 405},
}


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield route, name, entry


def _admin_kind(route: str, name: str) -> str:
    short = name.removeprefix("admin:")
    if short.endswith("_password_change"):
        return "password"
    for suffix in ("changelist", "add", "change", "history", "delete"):
        if short.endswith(f"_{suffix}") and short != "password_change":
            return suffix
    if short:
        return short
    if route.endswith("(?P<url>.*)$"):
        return "catch_all"
    return "object"


def _admin_url(world: World, route: str, name: str, pattern: URLPattern) -> str | None:
    kind = _admin_kind(route, name)
    model_admin = getattr(pattern.callback, "model_admin", None)
    if kind == "catch_all":
        return "/admin/no-such-page/"
    if kind == "app_list":
        return reverse(name, kwargs={"app_label": "leads"})
    if kind == "view_on_site":
        ct = ContentType.objects.get_for_model(Lead)
        return reverse(name, kwargs={"content_type_id": ct.pk, "object_id": world.lead.pk})
    if kind == "password":
        return reverse(name, kwargs={"id": world.users[OWNER].pk})
    if "object_id" in route:
        obj = model_admin.model._default_manager.first()
        if obj is None:
            return None  # nothing to open; the kind is checked on another model
        if kind == "object":
            opts = model_admin.model._meta
            return f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/"
        return reverse(name, kwargs={"object_id": obj.pk})
    return reverse(name)


def _admin_expect(kind: str, model_admin, request) -> dict:
    if kind in ADMIN_SPECIAL:
        return ADMIN_SPECIAL[kind]
    code = ADMIN_KINDS[kind]
    if model_admin is not None and kind == "add" and not model_admin.has_add_permission(request):
        code = 403
    if model_admin is not None and kind == "delete" and not model_admin.has_delete_permission(request):
        code = 403
    # Anonymous visitors meet the app's login wall before a model's admin page, the admin's own login page
    # before the admin site's pages: a login page either way.
    anonymous = LOGIN if kind in MODEL_KINDS else ADMIN_LOGIN
    return {**dict.fromkeys(ROLES, ADMIN_LOGIN), ANON: anonymous, ADMIN: code}


def test_the_admin_is_for_staff_only(world, rf):
    request = rf.get("/admin/")
    request.user = world.users[ADMIN]
    checked: dict[str, int] = {}
    failures = []
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("admin/"):
            continue
        kind = _admin_kind(route, name)
        assert kind in ADMIN_KINDS or kind in ADMIN_SPECIAL, f"admin URL {route} ({name}) needs a row"
        url = _admin_url(world, route, name, pattern)
        if url is None:
            continue
        expect = _admin_expect(kind, getattr(pattern.callback, "model_admin", None), request)
        answers = {role: _ask(world, role, "get", url, {}) for role in ROLES}
        if answers != expect:
            failures.append(
                f"{url}: "
                + ", ".join(f"{r} {answers[r]} (not {expect[r]})" for r in ROLES if answers[r] != expect[r])
            )
        checked[kind] = checked.get(kind, 0) + 1
    assert not failures, "\n".join(failures)
    assert set(checked) == set(ADMIN_KINDS) | set(ADMIN_SPECIAL)
    assert checked["changelist"] == len(admin.site._registry)


# --- Coverage: a URL without a row fails -------------------------------------------------------------------------


def test_every_url_has_a_row():
    # A row names its URL pattern; a pattern without a name is listed by its route.
    names = {
        name or route
        for route, name, _ in _walk(get_resolver().url_patterns)
        if not route.startswith("admin/")
    }
    covered = {p.name for p in PAGES} | {p.name for p in API_PROBES}
    assert names - covered == set(), "add a row to PAGES or API_PROBES for each new URL"
    assert covered - names == set(), "a row names a URL that no longer exists"


def test_every_role_and_caller_is_in_every_row():
    for probe in PAGES:
        assert set(probe.expect) == set(ROLES), probe
    for probe in API_PROBES:
        assert set(probe.expect) == set(CALLERS), probe
