"""Every list page within its query budget (issue #22: ≤ 8), and the same count for a few rows and for many.

Each page is visited by a manager (the settings pages, which are an administrator's, by an administrator) with a
few rows, then again after many more were added. The layout costs 2 of the budget: the session, and the user with
their team and unread notification count (salesmarketing.security.ThrottledModelBackend.get_user).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from integrations.models import TeamChannel
from integrations.services import subscription_create
from leads.models import Company, Handoff
from nurture.models import Broadcast
from pipeline.models import Stage
from pipeline.services import pipeline_ensure_default
from salesmarketing import events
from salesmarketing.models import Team, User
from salesmarketing.services import api_key_create
from tests.leads.factories import CampaignFactory, PersonaFactory, make_company, make_handoff, make_lead
from tests.nurture.factories import MailTemplateFactory, SegmentFactory, sequence_make
from tests.nurture.mail_fixtures import mail_segment
from tests.quotes.factories import make_product
from tests.reminders.conftest import make_items
from tests.salesmarketing.factories import TeamFactory, UserFactory, notify

pytestmark = pytest.mark.django_db

LIST_BUDGET = 8  # issue #22: every list page, layout included
FEW, MANY = 2, 12

_seq = itertools.count(1)


@dataclass
class World:
    manager: User
    rep: User
    admin: User
    team: Team
    stages: dict[str, Stage]


@dataclass(frozen=True)
class Page:
    name: str
    url: Callable[[World], str]
    seed: Callable[[World, int], None]  # adds n more rows of what the page lists
    budget: int = LIST_BUDGET
    as_admin: bool = False

    def __str__(self) -> str:
        return self.name


def _waiting_handoff(world: World, owner: User | None) -> Handoff:
    now = timezone.now()
    return Handoff.objects.create(
        lead=make_lead(owner=owner, company=make_company()),
        owner=owner,
        team=world.team,
        state=Handoff.State.ASSIGNED if owner else Handoff.State.UNASSIGNED,
        mql_at=now - dt.timedelta(hours=1),
        assigned_at=now - dt.timedelta(hours=1) if owner else None,
        sla_due_at=now + dt.timedelta(hours=3),
    )


def _leads(world: World, n: int) -> None:
    for _ in range(n):
        make_lead(owner=world.rep, company=make_company())


def _companies(world: World, n: int) -> None:
    for i in range(n):
        company = make_company()
        if i % 2:  # the owner column: some owned, some not
            Company.objects.filter(pk=company.pk).update(owner=world.manager)
        make_lead(owner=world.rep, company=company)


def _handoffs(world: World, n: int) -> None:
    campaign = CampaignFactory(owner=world.manager)
    for _ in range(n):
        make_handoff(
            lead=make_lead(owner=world.rep, company=make_company()), owner=world.rep, campaign=campaign
        )
        _waiting_handoff(world, world.rep)


def _campaigns(world: World, n: int) -> None:
    for _ in range(n):
        CampaignFactory(owner=world.manager)


def _personas(world: World, n: int) -> None:
    for _ in range(n):
        PersonaFactory()


def _segments(world: World, n: int) -> None:
    for _ in range(n):
        SegmentFactory()


def _templates(world: World, n: int) -> None:
    for _ in range(n):
        MailTemplateFactory()


def _broadcasts(world: World, n: int) -> None:
    campaign = CampaignFactory()
    for _ in range(n):
        Broadcast.objects.create(
            name=f"号 {next(_seq)}",
            template=MailTemplateFactory(),
            segment=mail_segment([], name=f"配信先 {next(_seq)}"),
            campaign=campaign,
            throttle_per_minute=10,
        )


def _sequences(world: World, n: int) -> None:
    for _ in range(n):
        sequence_make()


def _products(world: World, n: int) -> None:
    for _ in range(n):
        make_product()


def _tasks(world: World, n: int) -> None:
    today = timezone.localdate()
    make_items(world.manager, due=today - dt.timedelta(days=2), stage=world.stages["Discovery"], n=n)
    make_items(world.manager, due=today + dt.timedelta(days=3), stage=world.stages["Proposal"], n=n)
    for _ in range(n):
        _waiting_handoff(world, world.manager)


def _team(world: World, n: int) -> None:
    for _ in range(n):
        UserFactory(username=f"rep{next(_seq)}", role=User.Role.SALES, team=world.team)
        _waiting_handoff(world, None)


def _duplicates(world: World, n: int) -> None:
    for _ in range(n):
        i = next(_seq)
        make_lead(f"a{i}@dup.example.jp", name=f"重複 {i}", phone=f"090-0000-{i:04d}")
        make_lead(f"b{i}@dup.example.jp", name=f"重複 {i}", phone=f"090-0000-{i:04d}", company="重複工業")


def _notifications(world: World, n: int) -> None:
    for _ in range(n):
        notify(recipient=world.manager, title=f"お知らせ {next(_seq)}")


def _api_keys(world: World, n: int) -> None:
    for _ in range(n):
        api_key_create(name=f"鍵 {next(_seq)}", source="test", user=world.rep)
        api_key_create(name=f"連携 {next(_seq)}", source="test")


def _webhooks(world: World, n: int) -> None:
    for _ in range(n):
        subscription_create(
            name=f"CRM {next(_seq)}", url="https://93.184.215.14/hook", kinds=[events.DEAL_WON], by=None
        )


def _chat(world: World, n: int) -> None:
    for _ in range(n):
        team = TeamFactory(name=f"営業{next(_seq)}課")
        TeamChannel.objects.create(
            team=team, provider=TeamChannel.Provider.SLACK, url="https://hooks.slack.com/services/T/B/x"
        )


def _url(name: str, *args) -> Callable[[World], str]:
    return lambda world: reverse(name, args=args)


PAGES = [
    Page("leads", _url("leads:list"), _leads),
    Page("companies", _url("leads:company_list"), _companies),
    Page("handoffs", _url("leads:handoffs"), _handoffs),
    Page("duplicates", _url("leads:duplicates"), _duplicates),
    Page("team", lambda world: reverse("leads:team", args=[world.team.pk]), _team),
    Page("campaigns", _url("campaigns:list"), _campaigns),
    Page("personas", _url("campaigns:persona_list"), _personas),
    Page("segments", _url("nurture:segment_list"), _segments),
    Page("mail templates", _url("nurture:mail_templates"), _templates),
    Page("broadcasts", _url("nurture:mail_broadcasts"), _broadcasts),
    Page("sequences", _url("nurture:sequence_list"), _sequences),
    Page("products", _url("quotes:product_list"), _products),
    Page("my tasks", _url("reminders:my_tasks"), _tasks),
    Page("notifications", _url("notifications"), _notifications),
    Page("api keys", _url("api_keys:list"), _api_keys, as_admin=True),
    Page("webhooks", _url("integrations:webhooks"), _webhooks, as_admin=True),
    Page("team chat", _url("integrations:chat"), _chat, as_admin=True),
]


@pytest.fixture
def world(manager, owner) -> World:
    admin = UserFactory(
        username="admin", display_name="管理 者", role=User.Role.ADMIN, is_staff=True, is_superuser=True
    )
    stages = {stage.name_en: stage for stage in pipeline_ensure_default().stages.all()}
    return World(manager=manager, rep=owner, admin=admin, team=manager.team, stages=stages)


def _count(client, url: str, django_assert_max_num_queries, budget: int) -> int:
    client.get(url)  # warm what every process keeps once (translations, the content types)
    cache.clear()  # but count what a page reads through the cache, as on its first visit
    with django_assert_max_num_queries(budget) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("list_page", PAGES, ids=str)
def test_a_list_page_stays_within_its_budget_for_few_and_many_rows(
    client, world, list_page: Page, django_assert_max_num_queries
):
    client.force_login(world.admin if list_page.as_admin else world.manager)
    url = list_page.url(world)
    list_page.seed(world, FEW)
    few = _count(client, url, django_assert_max_num_queries, list_page.budget)
    list_page.seed(world, MANY - FEW)
    many = _count(client, url, django_assert_max_num_queries, list_page.budget)
    assert few == many, f"{list_page}: {few} queries for {FEW} rows, {many} for {MANY}"
