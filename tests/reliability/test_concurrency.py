"""Races over real HTTP: several clients hit a live server at the same instant, and every case ends consistent.

Each test runs pytest-django's threaded live server on the PostgreSQL test database; the racing requests leave
from threads released together by a barrier (their connections already open), so they reach the views, the row
locks and the unique constraints at the same moment. Users log in through the login form and post with the CSRF
token the page puts in `<body hx-headers>`, as htmx does; the API is called with a Bearer key.

Service-level races are covered next to their services (tests/leads/test_ingest.py, test_scoring_races.py,
tests/pipeline/test_services_moves.py); these go through the whole request path: middleware, views, responses.
The last test is the exception: it forces, with a row lock, an order of two scorers that production can produce
by chance (found while writing the score checks here), and pins the fix in leads/scoring/engine.py.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, F
from django.db.models.functions import Lower
from django.utils import timezone

from leads.choices import LifecycleStage
from leads.handoffs import handoff_assign
from leads.models import Handoff, ImportJob, Lead, TerritoryRule, Touch, Visitor
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.engine import LeadFilter, score_leads
from leads.services import company_resolve, lead_upsert
from pipeline.models import Deal, Stage, StageChange
from pipeline.services import pipeline_ensure_default
from salesmarketing.models import User
from salesmarketing.services import api_key_create
from tests.conftest import require_or_skip
from tests.pipeline.factories import make_deal
from tests.salesmarketing.factories import TeamFactory, UserFactory

PASSWORD = "pw-for-tests-1"  # tests.salesmarketing.factories.UserFactory's


# --- A browser's worth of HTTP (stdlib only) -------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Session:
    """One client: its own cookies (session, CSRF) and the CSRF token the last page carried for htmx."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict | None = None,
        body: bytes | None = None,
        content_type: str = "",
        headers: dict[str, str] | None = None,
        ready: threading.Barrier | None = None,
    ) -> Response:
        """Send one request (redirects are not followed). With `ready`, connect first, then wait at the barrier
        with the other racers and send."""
        url = urlsplit(self.base_url)
        if form is not None:
            body, content_type = urlencode(form, doseq=True).encode(), "application/x-www-form-urlencoded"
        sent = {"Origin": self.base_url, **self.headers, **(headers or {})}
        if content_type:
            sent["Content-Type"] = content_type
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=90)
        try:
            conn.connect()
            if ready is not None:
                ready.wait(timeout=30)
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            payload = raw.read()
            received = raw.getheaders()
        finally:
            conn.close()
        for name, value in received:
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[morsel.key] = morsel.value
                    else:
                        self.cookies.pop(morsel.key, None)
        response = Response(raw.status, {name.lower(): value for name, value in received}, payload)
        token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", response.text)
        if token:
            self.csrf_token = token.group(1)
        return response

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def htmx_post(self, path: str, form: dict | None = None, **kwargs) -> Response:
        """A post as htmx sends it: HX-Request and the page's CSRF token in X-CSRFToken."""
        assert self.csrf_token, "open a page first: the token comes from <body hx-headers>"
        headers = {"HX-Request": "true", "X-CSRFToken": self.csrf_token, **kwargs.pop("headers", {})}
        return self.request("POST", path, form=form or {}, headers=headers, **kwargs)


def logged_in(base_url: str, user: User) -> Session:
    """A browser that went through the login form."""
    session = Session(base_url)
    page = session.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.request(
        "POST",
        "/accounts/login/",
        form={"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert done.status == 302 and done.headers["location"] == "/", done.text[:500]
    return session


def race(*calls: Callable[[threading.Barrier], Response]) -> list[Response]:
    """Run the calls in threads that send at the same instant; their responses in order."""
    barrier = threading.Barrier(len(calls))
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call, barrier) for call in calls]
        return [future.result(timeout=120) for future in futures]


@pytest.fixture
def server(live_server):
    """The live server's URL, on PostgreSQL only (the fixture also makes the test's database transactional)."""
    require_or_skip(
        connection.vendor == "postgresql",
        "races need PostgreSQL's row locks and concurrent writers; SQLite serialises every write",
    )
    return live_server.url


def assert_no_server_errors(responses: list[Response]) -> None:
    errors = [(r.status, r.text[:300]) for r in responses if r.status >= 500]
    assert not errors, errors


# --- Scores: what is stored equals a fresh computation ---------------------------------------------------


def stale_scores(lead_ids: list[int]) -> dict[int, tuple]:
    """Leads whose stored (fit, engagement, total) differ from the engine's result at their own `scored_at`, or
    that have a touch received after they were scored: {lead id: (stored, fresh, why)}.

    The engine rescores a copy: each group of leads scored at the same instant is scored again at that instant
    inside a transaction that is rolled back, so nothing changes."""
    leads = {
        pk: (scored_at, (fit, eng, total))
        for pk, scored_at, fit, eng, total in Lead.objects.filter(pk__in=lead_ids).values_list(
            "pk", "scored_at", "fit_score", "engagement_score", "total_score"
        )
    }
    late = set(
        Touch.objects.filter(lead_id__in=lead_ids, created_at__gt=F("lead__scored_at")).values_list(
            "lead_id", flat=True
        )
    )
    by_time: dict = {}
    for pk, (scored_at, _scores) in leads.items():
        by_time.setdefault(scored_at, []).append(pk)
    with transaction.atomic():
        for scored_at, pks in by_time.items():
            if scored_at is not None:
                score_leads(LeadFilter(ids=tuple(sorted(pks))), now=scored_at)
        fresh = {
            pk: (scored_at, (fit, eng, total))
            for pk, scored_at, fit, eng, total in Lead.objects.filter(pk__in=lead_ids).values_list(
                "pk", "scored_at", "fit_score", "engagement_score", "total_score"
            )
        }
        transaction.set_rollback(True)
    return {
        pk: (stored, fresh[pk][1], "a touch received after scoring" if pk in late else "")
        for pk, (scored_at, stored) in leads.items()
        if scored_at is None or stored != fresh[pk][1] or pk in late
    }


# --- 1. The same event batch from several clients ---------------------------------------------------------

CLIENTS = 4


def _events(numbers) -> list[dict]:
    """Events of 20 people at 5 companies: anonymous page views, then forms that identify the browsers, clicks
    (some with the address in capitals) and downloads, so parallel copies race to create the same leads,
    companies and visitors and to move the same anonymous history."""
    events = []
    for n in numbers:
        person = n % 20
        email = f"person{person}@race{person % 5}.example.jp"
        kind = (n // 20) % 5  # each person's events go through every kind, page views first
        event: dict[str, Any] = {"id": f"evt-{n}"}
        if kind == 0:
            event.update(
                type="page_view", visitor_id=f"v-{person}", url=f"https://www.example.jp/pricing?{n}"
            )
        elif kind == 1:
            event.update(
                type="form_submit",
                email=email,
                visitor_id=f"v-{person}",
                name=f"競合 太郎{person}",
                company=f"株式会社レース{person % 5}",
                company_domain=f"race{person % 5}.example.jp",
                title="情報システム部 部長",
                employee_count=800,
            )
        elif kind == 2:
            event.update(type="email_click", email=email.upper() if n % 2 else email, utm_campaign="race")
        elif kind == 3:
            event.update(type="content_download", email=email, url="https://www.example.jp/whitepaper")
        else:
            event.update(type="webinar_attended", email=email)
        events.append(event)
    return events


def _post_events(base_url: str, key: str, body: bytes) -> Callable[[threading.Barrier], Response]:
    """One integration sending a batch; a 409 (a concurrent write won) is resent, as the API asks."""

    def send(ready: threading.Barrier) -> Response:
        client = Session(base_url, headers={"Authorization": f"Bearer {key}"})
        response = client.request(
            "POST", "/api/v1/events", body=body, content_type="application/json", ready=ready
        )
        for _attempt in range(3):
            if response.status != 409:
                break
            response = client.request("POST", "/api/v1/events", body=body, content_type="application/json")
        return response

    return send


def test_the_same_event_batch_from_several_clients_is_stored_once(server):
    ensure_default_scoring()
    _key, plain = api_key_create(name="race", source="race", scopes=["events:write"])
    sent: set[str] = set()
    for numbers in (range(0, 120), range(60, 200)):  # the second round replays half of the first
        batch = _events(numbers)
        body = json.dumps({"events": batch}, ensure_ascii=False).encode()
        responses = race(*[_post_events(server, plain, body) for _ in range(CLIENTS)])

        assert_no_server_errors(responses)
        assert [r.status for r in responses] == [202] * CLIENTS, [r.text[:300] for r in responses]
        reports = [r.json() for r in responses]
        new = {e["id"] for e in batch} - sent
        assert sum(r["accepted"] for r in reports) == len(new)
        assert sum(r["accepted"] + r["duplicates"] for r in reports) == CLIENTS * len(batch)
        assert all(r["rejected"] == [] for r in reports)
        sent |= new

    touches = Touch.objects.filter(source="api:race")
    assert touches.count() == len(sent) == 200
    assert set(touches.values_list("idempotency_key", flat=True)) == {f"evt-{n}" for n in range(200)}
    # One lead per person whatever the case of the address, one company per domain, one visitor per browser.
    assert Lead.objects.count() == 20
    assert not Lead.objects.values(e=Lower("email")).annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Visitor.objects.count() == 20 and not Visitor.objects.filter(lead__isnull=True).exists()
    assert Lead.objects.values("company__domain").distinct().count() == 5
    # Every named event is on its person's lead; identified browsers' page views moved to their lead.
    expected = Counter(f"person{n % 20}@race{n % 20 % 5}.example.jp" for n in range(200))
    for lead in Lead.objects.annotate(n=Count("touches")):
        assert lead.n == expected[lead.email.lower()], lead.email
    assert not touches.filter(lead__isnull=True).exists()
    # Scoring ran in the racing requests too (after each commit): every stored score is what the engine computes
    # at the moment it was stored, and no lead has a touch newer than its score.
    assert stale_scores(list(Lead.objects.values_list("pk", flat=True))) == {}


# --- 2. The same deal dragged by two users at once --------------------------------------------------------


@pytest.fixture
def team_users():
    team = TeamFactory(name="競争課")
    rep = UserFactory(username="race-rep", role=User.Role.SALES, team=team)
    boss = UserFactory(username="race-boss", role=User.Role.MANAGER, team=team)
    team.manager = boss
    team.save()
    return rep, boss


def _history_is_one_chain(deal: Deal) -> list[StageChange]:
    changes = list(deal.stage_changes.order_by("changed_at", "id"))
    assert changes[0].from_stage_id is None  # its creation
    for previous, change in zip(changes, changes[1:], strict=False):
        assert change.from_stage_id == previous.to_stage_id, "a move started from a stage the deal had left"
        assert change.changed_at >= previous.changed_at
        assert change.seconds_in_from_stage is not None and change.seconds_in_from_stage >= 0
    assert changes[-1].to_stage_id == deal.stage_id
    assert deal.stage_changed_at == changes[-1].changed_at
    return changes


def test_two_users_dragging_one_deal_at_once_leave_one_consistent_history(server, team_users):
    rep, boss = team_users
    stages = {s.name_en: s for s in pipeline_ensure_default().stages.all()}
    deal = make_deal(owner=rep, stage=stages["Initial contact"], name="同時ドラッグ商談")
    move = f"/pipeline/deals/{deal.pk}/move/"
    browsers = [logged_in(server, rep), logged_in(server, boss)]
    for browser in browsers:
        assert browser.get("/pipeline/").status == 200 and browser.csrf_token

    rounds = [
        ("Discovery", "Proposal"),
        ("Quote & negotiation", "Initial contact"),
        ("Proposal", "Discovery"),
        ("Initial contact", "Quote & negotiation"),
        ("Proposal", "Proposal"),  # both drop it in the same column: one change, not two
    ]
    for a, b in rounds:
        before = Deal.objects.get(pk=deal.pk)
        history_before = deal.stage_changes.count()

        def drag(browser: Session, stage: Stage) -> Callable[[threading.Barrier], Response]:
            form = {"stage": stage.pk, "before": "", "after": "", "next": "/pipeline/"}
            return lambda ready: browser.htmx_post(move, form, ready=ready)

        responses = race(drag(browsers[0], stages[a]), drag(browsers[1], stages[b]))

        assert_no_server_errors(responses)
        assert [r.status for r in responses] == [200, 200], [r.text[:300] for r in responses]
        for response in responses:  # each mover gets back the columns its move changed
            assert 'hx-swap-oob="true"' in response.text
        deal.refresh_from_db()
        assert deal.stage_id in (stages[a].pk, stages[b].pk)
        changes = _history_is_one_chain(deal)
        moved = {stages[a].pk, stages[b].pk} - {before.stage_id}
        assert len(changes) - history_before == (2 if len(moved) == 2 else 1)
        assert deal.version == before.version + len(changes) - history_before
    # The board shows it once, in the stage the history ends in.
    board = browsers[0].get("/pipeline/").text
    assert board.count(f'data-deal="{deal.pk}"') == 1


def test_two_users_dragging_the_card_they_both_saw_one_wins_the_other_gets_409(server, team_users):
    """With the version their boards showed, the second writer is told instead of silently overwriting."""
    rep, boss = team_users
    stages = {s.name_en: s for s in pipeline_ensure_default().stages.all()}
    deal = make_deal(owner=rep, stage=stages["Initial contact"], name="同じ版を見た商談")
    move = f"/pipeline/deals/{deal.pk}/move/"
    browsers = [logged_in(server, rep), logged_in(server, boss)]
    for browser in browsers:
        board = browser.get("/pipeline/").text
        assert f'name="version" value="{deal.version}"' in board

    def drag(browser: Session, stage: Stage) -> Callable[[threading.Barrier], Response]:
        form = {"stage": stage.pk, "version": deal.version, "next": "/pipeline/"}
        return lambda ready: browser.htmx_post(move, form, ready=ready)

    responses = race(drag(browsers[0], stages["Proposal"]), drag(browsers[1], stages["Discovery"]))

    assert_no_server_errors(responses)
    assert sorted(r.status for r in responses) == [200, 409], [r.text[:300] for r in responses]
    winner, loser = sorted(responses, key=lambda r: r.status)
    deal.refresh_from_db()
    assert deal.version == 2 and deal.stage_changes.count() == 2  # one move, not two
    # the loser sees the card where the winner put it, with the version to retry from
    assert (
        f'id="col-{deal.stage_id}"' in loser.text and f'name="version" value="{deal.version}"' in loser.text
    )
    assert "message-error" in loser.text
    _history_is_one_chain(deal)


# --- 3. The same handoff accepted twice at once -----------------------------------------------------------


def _assigned_handoff(email: str, rep: User) -> Handoff:
    """A handoff assigned to `rep` (a territory rule sends the lead's region to the rep's team)."""
    region = f"r{rep.pk}"
    TerritoryRule.objects.get_or_create(team=rep.team, region=region, defaults={"priority": 1})
    company = company_resolve(name=f"{email} 社", domain=f"{email.split('@')[1]}", region=region)
    lead, _ = lead_upsert(email=email, source="api", title="部長", company=company)
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=LifecycleStage.MQL, mql_at=lead.created_at)
    handoff = Handoff.objects.create(lead=lead, mql_at=lead.created_at, score_at_handoff=70, reason="同時")
    handoff = handoff_assign(handoff_id=handoff.pk)
    assert handoff.owner == rep
    return handoff


def _ui_post(browser: Session, path: str, ready: threading.Barrier) -> Response:
    return browser.htmx_post(path, ready=ready)


def _api_post(api: Session, path: str, *args) -> Response:
    *payload, ready = args
    body = json.dumps(payload[0]).encode() if payload else None
    return api.request("POST", path, body=body, content_type="application/json" if body else "", ready=ready)


def test_one_handoff_accepted_at_once_in_the_ui_and_the_api_makes_one_sql_and_one_deal(server, team_users):
    rep, boss = team_users
    _key, plain = api_key_create(name="SFA", source="sfa", scopes=["handoffs:write"], user=rep)
    browsers = [logged_in(server, rep), logged_in(server, boss)]
    for browser in browsers:
        assert browser.get("/leads/handoffs/").status == 200 and browser.csrf_token
    api = Session(server, headers={"Authorization": f"Bearer {plain}"})

    for n in range(4):
        handoff = _assigned_handoff(f"accept{n}@race{n}.example.jp", rep)
        ui_path, api_path = f"/leads/handoffs/{handoff.pk}/accept", f"/api/v1/handoffs/{handoff.pk}/accept"
        responses = race(
            partial(_ui_post, browsers[0], ui_path),
            partial(_api_post, api, api_path),
            partial(_ui_post, browsers[1], ui_path),
            partial(_api_post, api, api_path),
        )

        assert_no_server_errors(responses)
        deals = list(Deal.objects.filter(handoff=handoff))
        assert len(deals) == 1, "one handoff, one deal"
        deal = deals[0]
        assert Deal.objects.filter(contact=handoff.lead).count() == 1
        for ui in (responses[0], responses[2]):  # both browsers land on the one deal
            assert ui.status == 200 and ui.headers["hx-redirect"] == deal.get_absolute_url()
        for answer in (responses[1], responses[3]):  # the API: the same result, or a clean conflict
            assert answer.status in (200, 409), answer.text[:300]
            if answer.status == 200:
                assert answer.json()["state"] == "accepted" and answer.json()["deal_id"] == deal.pk
            else:
                assert answer.json()["detail"]
        handoff.refresh_from_db()
        lead = Lead.objects.get(pk=handoff.lead_id)
        assert handoff.state == Handoff.State.ACCEPTED and handoff.decided_by_id in (rep.pk, boss.pk)
        assert lead.lifecycle_stage == LifecycleStage.OPPORTUNITY and lead.owner_id == rep.pk
        assert deal.stage_changes.count() == 1  # created once, never re-created


def test_accept_and_reject_at_once_end_in_one_decision(server, team_users):
    rep, _boss = team_users
    _key, plain = api_key_create(name="SFA", source="sfa", scopes=["handoffs:write"], user=rep)
    browser = logged_in(server, rep)
    browser.get("/leads/handoffs/")
    api = Session(server, headers={"Authorization": f"Bearer {plain}"})
    for n in range(3):
        handoff = _assigned_handoff(f"decide{n}@race{n}.example.jp", rep)
        accepted, rejected = race(
            partial(_ui_post, browser, f"/leads/handoffs/{handoff.pk}/accept"),
            partial(
                _api_post,
                api,
                f"/api/v1/handoffs/{handoff.pk}/reject",
                {"reason": "too_early", "note": "来期"},
            ),
        )
        assert_no_server_errors([accepted, rejected])
        handoff.refresh_from_db()
        lead = Lead.objects.get(pk=handoff.lead_id)
        if handoff.state == Handoff.State.ACCEPTED:
            assert rejected.status == 409 and rejected.json()["detail"]
            assert accepted.headers.get("hx-redirect") == handoff.deal.get_absolute_url()
            assert lead.lifecycle_stage == LifecycleStage.OPPORTUNITY
        else:
            assert handoff.state == Handoff.State.REJECTED and rejected.status == 200
            assert (
                accepted.status == 200 and "hx-redirect" not in accepted.headers
            )  # the row, with the reason
            assert not Deal.objects.filter(contact=lead).exists()
            assert lead.lifecycle_stage == LifecycleStage.RECYCLED


# --- 4. The same CSV imported twice at once ---------------------------------------------------------------

ROWS = 1500


def _csv() -> tuple[bytes, dict]:
    """A trade-show list: most people once, some twice (another title: two touches, one lead), a few rows
    repeated exactly (one touch), an address in capitals, and a few bad rows."""
    lines = ["メールアドレス,氏名,会社名,役職"]
    for n in range(ROWS):
        person = n if n < 1200 else n - 1200  # rows 1200… revisit people 0…
        email = f"visitor{person}@expo{person % 40}.example.jp"
        if n % 500 == 7:
            email = email.upper()
        title = "部長" if n < 1200 else "課長"
        if n % 300 == 299:
            lines.append(f"not-an-address-{n},名無し,株式会社エラー,担当")
            continue
        lines.append(f"{email},来場 {person},株式会社展示{person % 40},{title}")
    for n in range(0, 50, 10):  # exact repeats of earlier rows
        lines.append(lines[n + 1])
    content = ("\r\n".join(lines) + "\r\n").encode("cp932")
    data_rows = lines[1:]
    bad = sum(1 for line in data_rows if line.startswith("not-an-address"))
    distinct_rows = len({line for line in data_rows if not line.startswith("not-an-address")})
    people = len({line.split(",")[0].lower() for line in data_rows if not line.startswith("not-an-address")})
    return content, {"rows": len(data_rows), "bad": bad, "touches": distinct_rows, "leads": people}


def _upload(browser: Session, content: bytes) -> int:
    boundary = secrets.token_hex(12)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="encoding"\r\n\r\nauto\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="expo.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    browser.get("/leads/import/")
    response = browser.request(
        "POST",
        "/leads/import/",
        body=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"X-CSRFToken": browser.csrf_token},
    )
    assert response.status == 302, response.text[:500]
    return int(re.fullmatch(r"/leads/import/(\d+)/", response.headers["location"]).group(1))


MAPPING = {
    "col_0": "email",
    "col_1": "name",
    "col_2": "company",
    "col_3": "title",
    "touch_type": "list_import",  # what `manage.py import_leads` does by default
    "lead_source": "import",
    "source_name": "EXPO 2026",
}


def _run_command(path: str) -> Callable[[threading.Barrier], Response]:
    """`manage.py import_leads` in a thread of its own (its own database connection) at the same instant."""

    def run(ready: threading.Barrier) -> Response:
        ready.wait(timeout=30)
        try:
            call_command("import_leads", path, "--source-name", "EXPO 2026", stdout=(out := io.StringIO()))
        finally:
            connection.close()
        return Response(0, {}, out.getvalue().encode())

    return run


def test_the_same_csv_imported_at_once_stores_each_lead_and_touch_once(server, tmp_path):
    importers = [
        UserFactory(username="race-mktg", role=User.Role.MARKETING, team=TeamFactory(name="マーケ", kind="marketing")),
        UserFactory(username="race-mgr", role=User.Role.MANAGER, team=TeamFactory(name="営業推進")),
    ]  # fmt: skip
    content, expect = _csv()
    path = tmp_path / "expo.csv"
    path.write_bytes(content)
    browsers = [logged_in(server, user) for user in importers]
    jobs = [_upload(browser, content) for browser in browsers]
    for browser, job in zip(browsers, jobs, strict=True):
        browser.get(f"/leads/import/{job}/")

    responses = race(
        lambda ready: browsers[0].htmx_post(f"/leads/import/{jobs[0]}/run", MAPPING, ready=ready),
        lambda ready: browsers[1].htmx_post(f"/leads/import/{jobs[1]}/run", MAPPING, ready=ready),
        lambda ready: browsers[0].htmx_post(
            f"/leads/import/{jobs[0]}/run", MAPPING, ready=ready
        ),  # double click
        _run_command(str(path)),
    )

    assert_no_server_errors(responses[:3])
    assert all(r.status in (200, 302) for r in responses[:3]), [r.status for r in responses]
    # The double click ran the job once: one answer is its finished report, the other a redirect to it or
    # the report of the run in progress.
    first = ImportJob.objects.get(pk=jobs[0])
    finished = f'data-count="accepted">{first.accepted_count:,}<'  # grouped, as every count on the pages
    assert any(r.status == 200 and finished in r.text for r in (responses[0], responses[2]))
    assert "Imported" in responses[3].text  # the command's summary

    # Each person is one lead, each distinct row one touch, whoever stored it.
    touches = Touch.objects.filter(source="import")
    assert touches.count() == expect["touches"]
    assert Lead.objects.count() == expect["leads"]
    assert not Lead.objects.values(e=Lower("email")).annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not touches.values("lead_id", "idempotency_key").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert touches.filter(lead__isnull=True).count() == 0

    # Three reports that add up: every run saw every row; together they stored each row and lead once.
    done = list(ImportJob.objects.order_by("pk"))
    assert len(done) == 3 and all(job.status == ImportJob.Status.DONE for job in done)
    for job in done:
        assert job.rows_total == expect["rows"] and job.error_count == expect["bad"]
        assert job.accepted_count + job.duplicate_count + job.error_count == job.rows_total
        assert [e["line"] for e in job.errors] == [e["line"] for e in done[0].errors]
    assert sum(job.accepted_count for job in done) == expect["touches"]
    assert sum(job.leads_created for job in done) == expect["leads"]
    for browser, job in zip(browsers, jobs, strict=True):  # the report page shows the stored outcome
        page = browser.get(f"/leads/import/{job}/", headers={"Accept-Language": "en"}).text
        stored = ImportJob.objects.get(pk=job)
        assert f'data-count="accepted">{stored.accepted_count:,}<' in page  # grouped, as above


# --- 5. A scorer that started earlier never undoes a newer score ------------------------------------------


def test_a_scorer_that_started_earlier_never_overwrites_a_newer_score(transactional_db):
    """Found while writing the score checks above (not through HTTP: the order is forced here with a row lock).

    A scoring statement reads touches as of the moment it starts. In production a long one (a nightly batch of
    20,000 leads) can reach a lead after the task of a touch committed meanwhile has scored it: PostgreSQL then
    re-checks the row and wrote the older reading over the newer one, so the touch's points were lost (and the
    lead's scored_at went back in time) until its next touch or the next night."""
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    ensure_default_scoring()
    lead, _ = lead_upsert(email="slow@race.example.jp", source="api", title="部長")
    Touch.objects.create(
        lead=lead, type="demo_request", occurred_at=lead.created_at, source="race", idempotency_key="1"
    )
    only_this = LeadFilter(ids=(lead.pk,))
    holding, release = threading.Event(), threading.Event()

    def newer_task() -> None:  # the new touch's task: it has the row when the older statement reaches it
        try:
            with transaction.atomic():
                Lead.objects.select_for_update(no_key=True).get(pk=lead.pk)
                holding.set()
                release.wait(timeout=30)
                score_leads(only_this)  # a new statement: it sees the touch committed meanwhile
        finally:
            connection.close()

    def older_batch() -> None:
        holding.wait(timeout=30)
        try:
            with transaction.atomic():
                score_leads(only_this)
        finally:
            connection.close()

    threads = [threading.Thread(target=newer_task), threading.Thread(target=older_batch)]
    for thread in threads:
        thread.start()
    with connection.cursor() as cursor:  # until the older statement has started and waits for the row
        for _ in range(300):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            release.set()
            pytest.fail("the older scoring statement never waited for the row")
    Touch.objects.create(
        lead=lead, type="webinar_attended", occurred_at=timezone.now(), source="race", idempotency_key="2"
    )
    release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert stale_scores([lead.pk]) == {}
    lead.refresh_from_db()
    assert lead.engagement_score > 0 and lead.scored_at > Touch.objects.get(idempotency_key="2").created_at
