"""Hostile text in every field people or integrations can fill, rendered on every page, HTMX partial and chart.

Leads arrive from web forms, the API, tracking and CSV files, so their names, titles, URLs and UTM values are
attacker-controlled; deals, notes, campaigns and personas are typed by colleagues. None of it may run: the raw
payloads must never appear in a response (their escaped forms do), no link may carry a `javascript:` URL, chart
data in json_script cannot close its <script>, and `{{7*7}}` stays text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import PersonaRule
from campaigns.services import cost_add
from kpis.periods import Period
from kpis.registry import KPIS
from kpis.services import MANUAL_KEYS, action_item_create, manual_value_set
from leads.handoffs import handoff_reject
from leads.importing import import_job_create, import_job_run
from leads.models import (
    AwarenessRule,
    Campaign,
    Company,
    FormEndpoint,
    Handoff,
    Lead,
    Persona,
    ScoringGroup,
    ScoringRule,
    Touch,
)
from leads.services import company_resolve, lead_upsert
from pipeline.services import activity_log, deal_close_lost, pipeline_ensure_default, task_create
from salesmarketing.models import User
from tests.pipeline.factories import make_deal
from tests.salesmarketing.factories import TeamFactory, UserFactory, notify

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
JS_URL = "javascript:alert(1)"
CLOSE_SCRIPT = "</script><script>alert(1)</script>"  # breaks out of a <script> block holding JSON


def hostile(label: str = "") -> str:
    """A value carrying every payload (under 100 characters, so it fits the shortest text fields)."""
    return f"{label}{SCRIPT}{IMG}{TEMPLATE}'"


# Raw forms that must never reach a page, and the escaped form that shows the data was rendered at all.
RAW = ("<script>alert(1)", "<img src=x onerror", "<img src=x")
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
JS_LINK = re.compile(r"""(?:href|src|action|formaction|hx-get|hx-post)\s*=\s*["']?\s*javascript:""", re.I)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build()
        transaction.set_rollback(True)


def _build() -> dict:
    team = TeamFactory(name=hostile("課"))
    owner = UserFactory(username="owner", display_name=hostile("担当"), role=User.Role.SALES, team=team)
    manager = UserFactory(username="manager", display_name=hostile("課長"), role=User.Role.MANAGER, team=team)
    team.manager = manager
    team.save()
    marketer = UserFactory(
        username="marketer",
        display_name=hostile("広報"),
        role=User.Role.MARKETING,
        team=TeamFactory(name="マーケ", kind="marketing"),
    )
    admin = UserFactory(username="admin", role=User.Role.ADMIN, team=None, is_staff=True, is_superuser=True)

    persona = Persona.objects.create(
        name=hostile("P"), role_title=hostile(), pains=CLOSE_SCRIPT, goals=hostile(), notes=hostile()
    )
    PersonaRule.objects.create(persona=persona, title_contains=hostile()[:100], priority=1)
    campaign = Campaign.objects.create(
        name=hostile("施策") + CLOSE_SCRIPT,
        channel=Campaign.Channel.WEBINAR,
        status=Campaign.Status.ACTIVE,
        utm_campaign="hostile",
        utm_source=hostile()[:100],
        utm_medium=hostile()[:100],
        description=hostile(),
        owner=marketer,
        start_date=dt.date(2026, 1, 1),
    )
    campaign.personas.add(persona)
    cost_add(campaign=campaign, date=timezone.localdate(), amount=Decimal(50_000), description=hostile())

    company = company_resolve(name=hostile("社") + CLOSE_SCRIPT, domain="hostile.example.jp")
    # Only the admin's URLField checks the scheme; the page must not trust what is stored.
    Company.objects.filter(pk=company.pk).update(website=JS_URL)
    lead, _ = lead_upsert(
        email="hostile@hostile.example.jp",
        source="web_form",
        company=company,
        name=hostile("氏名") + CLOSE_SCRIPT,
        name_kana=hostile(),
        title=hostile("部長"),
        department=hostile(),
        phone=hostile()[:50],
    )
    Lead.objects.filter(pk=lead.pk).update(
        owner=owner,
        first_touch_campaign=campaign,
        persona=persona,
        total_score=90,
        fit_score=40,
        mql_at=timezone.now(),
    )
    now = timezone.now()
    for n, (url, kind) in enumerate(
        [
            (JS_URL, "page_view"),
            (f"https://www.example.jp/?q={SCRIPT}", "form_submit"),
            (hostile(), "page_view"),
        ]
    ):
        Touch.objects.create(
            lead=lead,
            type=kind,
            occurred_at=now - dt.timedelta(days=n),
            url=url,
            utm_source=hostile()[:100],
            utm_medium=hostile()[:100],
            utm_campaign=hostile()[:100],
            utm_content=hostile()[:100],
            utm_term=hostile()[:100],
            campaign=campaign if n == 0 else None,
            properties={"title": hostile(), "ref": CLOSE_SCRIPT},
            source="test",
            idempotency_key=f"hostile-{n}",
        )

    handoff = Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=team,
        state=Handoff.State.ASSIGNED,
        mql_at=now,
        assigned_at=now,
        sla_due_at=now + dt.timedelta(hours=4),
        reason=hostile("hot"),
        campaign=campaign,
    )
    handoff_reject(handoff=handoff, by=owner, reason="other", note=hostile("reject"))
    open_handoff = Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=team,
        state=Handoff.State.ASSIGNED,
        mql_at=now,
        assigned_at=now,
        sla_due_at=now + dt.timedelta(hours=4),
        reason=hostile("hot again"),
        campaign=campaign,
    )

    pipeline_ensure_default()
    deal = make_deal(
        owner=owner, company=company, contact=lead, name=hostile("商談") + CLOSE_SCRIPT, next_step=hostile()
    )
    activity_log(
        by=owner,
        deal=deal,
        type="call",
        subject=hostile("件名"),
        body=hostile() + CLOSE_SCRIPT,
        outcome=hostile(),
        is_voice=True,
        voice_text=hostile("声"),
    )
    activity_log(by=owner, lead=lead, type="note", subject=hostile("メモ"), body=hostile())
    task_create(deal=deal, title=hostile("タスク"), due_date=timezone.localdate(), by=owner)
    lost = make_deal(owner=owner, company=company, name=hostile("失注"))
    deal_close_lost(deal=lost, cause="price", side="external", note=hostile("失注理由"), by=owner)

    week = Period.of("week", timezone.localdate())
    action_item_create(
        title=hostile("宿題"), owner=owner, due_date=timezone.localdate(), week=week, by=manager
    )
    manual_value_set(
        kpi=sorted(MANUAL_KEYS)[0],
        period_kind="month",
        period_start=timezone.localdate(),
        value=Decimal("0.5"),
        note=hostile("メモ"),
        by=manager,
    )

    group = ScoringGroup.objects.create(kind="fit", name=hostile("群")[:100], cap=30)
    rule = ScoringRule.objects.create(
        kind="fit",
        name=hostile("規則"),
        group=group,
        points=10,
        field="title",
        operator="contains",
        value=hostile(),
    )
    AwarenessRule.objects.create(name=hostile("認知"), stage="manifest", field="url", value=hostile())

    header = "メールアドレス,氏名,会社名,役職\n"
    rows = [
        f'bad-email-{SCRIPT},"{IMG}",{TEMPLATE},=cmd|x',
        f'csv@hostile.example.jp,"{hostile("CSV")}","{hostile("CSV社")}","{JS_URL}"',
    ]
    job = import_job_create(
        content=(header + "\n".join(rows) + "\n").encode(), file_name=hostile("file") + ".csv", user=marketer
    )
    waiting = import_job_create(
        content=(header + "\n".join(rows) + "\n").encode(),
        file_name=hostile("waiting") + ".csv",
        user=marketer,
    )
    import_job_run(
        job=job,
        mapping={0: "email", 1: "name", 2: "company", 3: "title"},
        touch_type="trade_show_visit",
        lead_source="import",
        source_name=hostile("展示会"),
    )
    notify(recipient=admin, title=hostile("通知"), body=hostile(), url=JS_URL)
    notify(recipient=owner, title=hostile("通知"), body=hostile(), url=JS_URL)
    return {
        "users": {"owner": owner, "manager": manager, "marketer": marketer, "admin": admin},
        "lead": lead,
        "company": company,
        "campaign": campaign,
        "persona": persona,
        "deal": deal,
        "lost": lost,
        "rule": rule,
        "job": job,
        "waiting": waiting,
        "week": week,
        "handoff": open_handoff,
    }


def _pages(w: dict) -> list[tuple[str, str, dict]]:
    """(viewer, URL, extra headers) for every page and partial that shows user-entered text."""
    htmx = {"HTTP_HX_REQUEST": "true"}
    lead, deal, campaign, persona = w["lead"], w["deal"], w["campaign"], w["persona"]
    week = w["week"].label
    pages = [
        "/",
        f"/?period={week}",
        "/notifications/",
        "/leads/",
        "/leads/?q=%3Cscript%3E",
        "/search/?q=%3Cscript%3E",  # the search: hostile names found, and the search itself shown back
        lead.get_absolute_url(),
        w["company"].get_absolute_url(),
        "/leads/scoring/",
        reverse("leads:scoring_rule", args=[w["rule"].pk]),
        "/leads/handoffs/",
        "/leads/handoffs/?show=decided",
        "/leads/import/",
        w["job"].get_absolute_url(),
        w["waiting"].get_absolute_url(),
        "/campaigns/",
        "/campaigns/?q=%22%3E%3Cimg",
        campaign.get_absolute_url(),
        f"{campaign.get_absolute_url()}?leads=touched",
        reverse("campaigns:edit", args=[campaign.pk]),
        "/campaigns/dashboard/",
        "/campaigns/personas/",
        persona.get_absolute_url(),
        reverse("campaigns:persona_edit", args=[persona.pk]),
        "/pipeline/",
        "/pipeline/?scope=all",
        "/pipeline/?q=%3Cscript%3E",
        "/pipeline/forecast/",
        deal.get_absolute_url(),
        w["lost"].get_absolute_url(),
        reverse("pipeline:lead_activity_create", args=[lead.pk]),
        f"/kpis/weekly/?week={week}",
        "/kpis/targets/",
        "/kpis/values/",
        "/settings/api-keys/",
    ]
    pages += [f"/kpis/{kpi.key}/?period={week}" for kpi in KPIS]
    # The Django admin shows the same records to staff.
    for obj in (lead, deal, campaign, persona, w["company"], w["job"], w["rule"], w["handoff"]):
        opts = obj._meta
        pages += [
            f"/admin/{opts.app_label}/{opts.model_name}/",
            f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/",
        ]
    pages += [
        "/admin/leads/touch/",
        "/admin/pipeline/activity/",
        "/admin/kpis/actionitem/",
        "/admin/salesmarketing/notification/",
    ]
    partials = [
        "/leads/?q=",
        "/search/?q=%3Cscript%3E",
        "/notifications/?part=bell",
        "/leads/handoffs/",
        "/leads/import/",
        w["job"].get_absolute_url(),
        w["waiting"].get_absolute_url(),
        "/campaigns/",
        campaign.get_absolute_url(),
        f"{campaign.get_absolute_url()}?part=leads&leads=touched",
        "/campaigns/dashboard/",
        "/campaigns/dashboard/?part=who&dimension=persona",
        f"{persona.get_absolute_url()}?part=rules",
        persona.get_absolute_url(),
        "/pipeline/?scope=all",
        "/pipeline/forecast/",
        reverse("pipeline:lead_activity_create", args=[lead.pk]),
        f"/?period={week}",
        f"/kpis/weekly/?week={week}",
    ]
    partials += [f"/kpis/{kpi.key}/?period={week}" for kpi in KPIS]
    stage = deal.stage.pipeline.stages.get(is_lost=True)
    partials.append(f"{reverse('pipeline:deal_close', args=[deal.pk])}?stage={stage.pk}")
    views = [(viewer, url, {}) for url in pages for viewer in ("admin",)]
    views += [(viewer, url, htmx) for url in partials for viewer in ("admin",)]
    # What the people who own the records see: their board, deal and handoffs; the marketer's lead pages.
    views += [("owner", url, {}) for url in ("/", "/pipeline/", deal.get_absolute_url(), "/leads/handoffs/")]
    views += [("owner", url, htmx) for url in ("/leads/handoffs/", "/notifications/?part=bell")]
    views += [("marketer", url, {}) for url in ("/leads/", lead.get_absolute_url(), "/campaigns/dashboard/")]
    return views


def _problems(body: str) -> list[str]:
    found = [f"raw {raw!r}" for raw in RAW if raw in body]
    found += [f"javascript: link {m.group(0)!r}" for m in JS_LINK.finditer(body)]
    return found


def _json_scripts(body: str) -> list[str]:
    return re.findall(r'<script id="[^"]*" type="application/json">(.*?)</script>', body, re.S)


def test_no_page_or_partial_lets_a_payload_run(world):
    failures, escaped_on, charts = [], [], 0
    clients = {}
    for viewer, url, headers in _pages(world):
        if viewer not in clients:
            clients[viewer] = Client()
            clients[viewer].force_login(world["users"][viewer])
        response = clients[viewer].get(url, **headers)
        label = f"{viewer} {'HTMX ' if headers else ''}GET {url}"
        if response.status_code != 200:
            failures.append(f"{label}: status {response.status_code}")
            continue
        body = response.content.decode()
        failures += [f"{label}: {problem}" for problem in _problems(body)]
        if ESCAPED_SCRIPT in body:
            escaped_on.append(url)
        for data in _json_scripts(body):
            charts += 1
            json.loads(data)  # still valid JSON
            assert "</" not in data and "<script" not in data.lower(), label
    assert not failures, "\n".join(failures)
    # The payloads were on the pages (escaped), so the checks above looked at them.
    assert len(escaped_on) >= 30, escaped_on
    assert charts >= 3


def test_chart_data_holding_a_closing_script_tag_stays_inside_its_json(world, client):
    client.force_login(world["users"]["admin"])
    body = client.get("/campaigns/dashboard/").content.decode()
    blocks = _json_scripts(body)
    holding = [block for block in blocks if CLOSE_SCRIPT in json.dumps(json.loads(block), ensure_ascii=False)]
    assert holding, "the campaign's name is in the chart data"
    for block in holding:
        assert "\\u003C/script\\u003E" in block and "</script" not in block


def test_the_template_payload_stays_text(world, client):
    client.force_login(world["users"]["admin"])
    body = client.get(world["lead"].get_absolute_url()).content.decode()
    assert (
        f"氏名&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;{TEMPLATE}"
        in body
    )


def test_a_javascript_website_is_shown_but_not_linked(world, client):
    client.force_login(world["users"]["admin"])
    body = client.get(world["company"].get_absolute_url()).content.decode()
    assert 'href="javascript:' not in body
    assert "hostile.example.jp" in body  # the domain is still shown, as text


def test_touch_urls_and_utm_values_are_text(world, client):
    client.force_login(world["users"]["admin"])
    body = client.get(world["lead"].get_absolute_url()).content.decode()
    assert "javascript:alert(1)" in body  # shown as text on the timeline
    assert not JS_LINK.search(body)
    assert "https://www.example.jp/?q=&lt;script&gt;" in body


def test_imported_csv_cells_and_file_names_are_escaped(world, client):
    client.force_login(world["users"]["admin"])
    for job in (world["job"], world["waiting"]):
        body = client.get(job.get_absolute_url()).content.decode()
        assert not _problems(body)
        assert ESCAPED_SCRIPT in body


@pytest.mark.parametrize(
    ("stored", "linked"),
    [
        ("https://www.example.jp/", "https://www.example.jp/"),
        ("http://example.jp", "http://example.jp"),
        ("/leads/handoffs/", "/leads/handoffs/"),
        ("javascript:alert(1)", ""),
        (" JavaScript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("//evil.example/", ""),
        ("/\\evil.example/", ""),
        ("https:evil", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_link_url_keeps_only_web_and_site_links(stored, linked):
    from salesmarketing.templatetags.sm import link_url

    assert link_url(stored) == linked


def test_flash_messages_and_htmx_answers_to_actions_escape_names(world, client):
    """Actions echo names back in messages and partials (a move, setting a persona, a failed public form)."""
    deal, lead, persona = world["deal"], world["lead"], world["persona"]
    stages = {s.name_en: s for s in deal.stage.pipeline.stages.all()}
    client.force_login(world["users"]["owner"])
    bodies = []
    with transaction.atomic():
        move = reverse("pipeline:deal_move", args=[deal.pk])
        bodies.append(client.post(move, {"stage": stages["Discovery"].pk}, follow=True))
        bodies.append(client.post(move, {"stage": stages["Proposal"].pk}, HTTP_HX_REQUEST="true"))
        bodies.append(client.post(move, {"stage": stages["Lost"].pk}, HTTP_HX_REQUEST="true"))  # close dialog
        client.force_login(world["users"]["marketer"])
        bodies.append(
            client.post(
                reverse("campaigns:lead_persona", args=[lead.pk]), {"persona": str(persona.pk)}, follow=True
            )
        )
        endpoint = FormEndpoint.objects.create(name=hostile("フォーム"))
        client.logout()
        bodies.append(
            client.post(
                reverse("capture:form_submit", args=[endpoint.site_key]),
                {"email": f"not-an-email{SCRIPT}", "name": hostile(), "company": IMG},
            )
        )
        transaction.set_rollback(True)
    assert [r.status_code for r in bodies] == [200, 200, 200, 200, 400]
    for response in bodies:
        body = response.content.decode()
        assert not _problems(body), body
    assert any(ESCAPED_SCRIPT in r.content.decode() for r in bodies[:2])
    assert ESCAPED_SCRIPT in bodies[3].content.decode()  # the message names the lead and the persona
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in bodies[4].content.decode()  # the value kept


def test_each_hostile_field_is_really_on_a_page(world, client):
    """The sweep above only proves something if the hostile values are rendered: each is, escaped."""
    client.force_login(world["users"]["admin"])
    week = world["week"].label
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    where = {
        "失注理由": f"/kpis/weekly/?week={week}",  # lost note, in 失注共有会
        "声": f"/kpis/weekly/?week={week}",  # voice of the customer
        "宿題": f"/kpis/weekly/?week={week}",  # action item
        "reject": "/leads/handoffs/?show=decided",  # rejection note
        "hot again": "/leads/handoffs/",  # why the lead is hot
        "件名": world["deal"].get_absolute_url(),  # activity subject
        "タスク": world["deal"].get_absolute_url(),  # task
        "商談": "/pipeline/?scope=all",  # deal name on the board
        "氏名": "/leads/",  # lead name
        "部長": "/leads/",  # job title
        "社": "/leads/",  # company name
        "施策": "/campaigns/",  # campaign name
        "P": "/campaigns/personas/",  # persona name
        "メモ": "/kpis/values/",  # the note of a hand-entered KPI value
        "CSV": world["waiting"].get_absolute_url(),  # a row's cells in the mapping preview
        "file": world["job"].get_absolute_url(),  # the uploaded file's name
        "規則": "/leads/scoring/",  # scoring rule
        "認知": "/leads/scoring/",  # awareness rule
        "担当": "/pipeline/?scope=all",  # a rep's display name
        "通知": "/notifications/",  # notification
    }
    missing = []
    for label, url in where.items():
        if f"{label}{escaped}" not in client.get(url).content.decode():
            missing.append(f"{label} on {url}")
    assert not missing, missing
