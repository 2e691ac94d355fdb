"""Deal detail: fields, edit, activity timeline with the voice of the customer, to-dos, stage history, origin."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.custom_fields.services import field_definition_create
from leads.models import CustomFieldType, CustomObject
from leads.services import company_resolve
from pipeline import services
from pipeline.models import Activity, Deal, Task
from quotes import services as quote_services
from tests.leads.factories import CampaignFactory, make_company, make_handoff, make_lead
from tests.pipeline.factories import make_deal
from tests.quotes.factories import add_line, make_issuer, make_product

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_detail_page_shows_history_activities_tasks_and_origin(owner_client, owner, stages):
    company = make_company("株式会社北斗物流")
    lead = make_lead(company=company, title="人事部長")
    campaign = CampaignFactory(name="残業削減ウェビナー")
    deal = services.deal_create_from_handoff(
        handoff=make_handoff(lead=lead, owner=owner, campaign=campaign), by=owner
    )
    deal = services.deal_move_to_stage(deal=deal, stage=stages["Discovery"], position=None, moved_by=owner)
    services.activity_log(
        by=owner,
        deal=deal,
        type="meeting",
        subject="現場責任者と打ち合わせ",
        is_voice=True,
        voice_text="部下の残業が多くて困っている",
    )
    services.task_create(deal=deal, title="議事録を送る", due_date=timezone.localdate(), by=owner)

    html = owner_client.get(reverse("pipeline:deal_detail", args=[deal.pk])).content.decode()

    assert "現場責任者と打ち合わせ" in html and "部下の残業が多くて困っている" in html
    assert "議事録を送る" in html
    assert stages["Discovery"].name_ja in html and stages["Initial contact"].name_ja in html
    assert campaign.name in html and str(lead) in html


def test_editing_saves_through_htmx_and_shows_the_new_figures(owner_client, deal):
    url = reverse("pipeline:deal_edit", args=[deal.pk])
    data = {
        "name": deal.name,
        "amount": "3600000",
        "probability": "55",
        "expected_close_date": (timezone.localdate() + dt.timedelta(days=40)).isoformat(),
        "next_step": "決裁者との面談",
        "next_step_date": timezone.localdate().isoformat(),
        "source": "referral",
        "version": deal.version,
    }
    response = owner_client.post(url, data, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="overview"')
    assert "3,600,000" in html
    deal.refresh_from_db()
    assert (deal.amount, deal.probability, deal.source, deal.version) == (3_600_000, 55, "referral", 2)


def test_an_invalid_edit_shows_errors_next_to_the_fields(owner_client, deal):
    url = reverse("pipeline:deal_edit", args=[deal.pk])
    data = {
        "name": "",
        "amount": "-1",
        "probability": "150",
        "expected_close_date": "",
        "source": "sales",
        "version": 1,
    }
    html = owner_client.post(url, data).content.decode()
    for field in ("name", "amount", "probability", "expected_close_date"):
        assert f'id="id_{field}"' in html
    assert html.count('class="error"') >= 4
    deal.refresh_from_db()
    assert deal.version == 1


def test_an_edit_over_someone_elses_newer_save_is_refused(owner_client, deal, owner):
    services.deal_update(deal=deal, by=owner, amount=9_000_000)
    url = reverse("pipeline:deal_edit", args=[deal.pk])
    data = {
        "name": deal.name,
        "amount": "1",
        "probability": "10",
        "expected_close_date": deal.expected_close_date.isoformat(),
        "source": "sales",
        "version": 1,
    }
    html = owner_client.post(url, data).content.decode()
    assert "form-errors" in html
    deal.refresh_from_db()
    assert deal.amount == 9_000_000


def test_a_manager_can_hand_a_deal_to_a_teammate(client, manager, deal, teammate):
    client.force_login(manager)
    url = reverse("pipeline:deal_edit", args=[deal.pk])
    data = {
        "name": deal.name,
        "amount": "1000",
        "probability": "10",
        "expected_close_date": deal.expected_close_date.isoformat(),
        "source": "sales",
        "owner": teammate.pk,
        "version": deal.version,
    }
    assert client.post(url, data).status_code == 302
    deal.refresh_from_db()
    assert deal.owner == teammate


def test_logging_a_voice_of_the_customer_activity(owner_client, deal):
    url = reverse("pipeline:activity_create", args=[deal.pk])
    response = owner_client.post(
        url,
        {
            "type": "call",
            "subject": "導入時期の確認",
            "is_voice": "on",
            "voice_text": "部下の残業が多くて困っている",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="activities">')
    assert "部下の残業が多くて困っている" in html
    activity = Activity.objects.get(deal=deal)
    assert activity.is_voice and activity.created_by == deal.owner


def test_the_voice_flag_without_text_shows_the_error_next_to_the_text(owner_client, deal):
    url = reverse("pipeline:activity_create", args=[deal.pk])
    html = owner_client.post(
        url, {"type": "call", "subject": "電話", "is_voice": "on", "voice_text": ""}
    ).content.decode()
    block = html[html.index('id="id_voice_text"') - 400 : html.index('id="id_voice_text"') + 400]
    assert "has-error" in block
    assert not Activity.objects.exists()


def test_tasks_are_added_and_done(owner_client, deal):
    response = owner_client.post(
        reverse("pipeline:task_create", args=[deal.pk]),
        {"title": "見積書を作成する", "due_date": "2030-01-10"},
        **HTMX,
    )
    assert "見積書を作成する" in response.content.decode()
    task = Task.objects.get(deal=deal)
    html = owner_client.post(reverse("pipeline:task_done", args=[task.pk]), **HTMX).content.decode()
    assert "is-done" in html
    task.refresh_from_db()
    assert task.done_at is not None


def test_a_new_deal_by_hand(owner_client, owner, stages):
    lead = make_lead(email="tanaka@yamada.example.jp")
    data = {
        "name": "山田製作所 勤怠管理クラウド導入",
        "company_name": "株式会社山田製作所",
        "contact_email": "TANAKA@yamada.example.jp",
        "stage": stages["Discovery"].pk,
        "amount": "1800000",
        "expected_close_date": "2030-03-31",
        "source": "sales",
    }
    response = owner_client.post(reverse("pipeline:deal_new"), data)
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert (deal.owner, deal.contact, deal.company.name, deal.probability) == (
        owner,
        lead,
        "株式会社山田製作所",
        20,
    )
    assert deal.company.owner == owner  # a company the deal made is the deal owner's


def test_a_new_deal_at_a_known_company_leaves_its_owner(owner_client, owner, stages, teammate):
    company = company_resolve(name="株式会社既存", owner=teammate)
    unowned = company_resolve(name="株式会社持ち主なし")
    for known in (company, unowned):  # a company is the rep's to see when a lead of theirs works there
        make_lead(company=known, owner=owner)
    for name in ("株式会社既存", "株式会社持ち主なし"):
        response = owner_client.post(reverse("pipeline:deal_new"), _new_deal(stages, company_name=name))
        assert response.status_code == 302
    assert set(Deal.objects.values_list("company", flat=True)) == {company.pk, unowned.pk}
    company.refresh_from_db()
    unowned.refresh_from_db()
    assert (company.owner, unowned.owner) == (teammate, None)


def test_a_new_deal_never_gets_a_company_the_rep_does_not_see(owner_client, owner, outsider, stages):
    """Typing another team's company name gives the rep's deal a new company of the rep's: the other is neither
    attached (the rep would see it through the deal) nor revealed."""
    theirs = company_resolve(name="株式会社他課", owner=outsider)
    make_lead(company=theirs, owner=outsider)
    response = owner_client.post(reverse("pipeline:deal_new"), _new_deal(stages, company_name="株式会社他課"))
    deal = Deal.objects.get()
    assert response.status_code == 302
    assert (deal.company.name, deal.company.owner) == ("株式会社他課", owner) and deal.company != theirs
    assert owner_client.get(theirs.get_absolute_url()).status_code == 404


def _new_deal(stages, **fields) -> dict:
    """The least a new deal's form needs, plus `fields`."""
    return {
        "name": "x",
        "company_name": "株式会社X",
        "stage": stages["Discovery"].pk,
        "amount": "1",
        "expected_close_date": "2030-03-31",
        "source": "sales",
        **fields,
    }


def test_a_new_deal_with_an_unknown_contact_email_is_refused(owner_client, stages):
    data = _new_deal(stages, contact_email="nobody@example.jp")
    html = owner_client.post(reverse("pipeline:deal_new"), data).content.decode()
    assert 'class="error"' in html
    assert not Deal.objects.exists()


def test_a_new_deal_takes_no_contact_from_another_team(owner_client, owner, teammate, outsider, stages):
    theirs = make_lead(email="theirs@example.jp", owner=outsider)
    ours = make_lead(email="ours@example.jp", owner=teammate)

    html = owner_client.post(
        reverse("pipeline:deal_new"), _new_deal(stages, contact_email=theirs.email)
    ).content.decode()

    assert 'class="error"' in html and theirs.name not in html
    assert not Deal.objects.exists()
    owner_client.post(reverse("pipeline:deal_new"), _new_deal(stages, contact_email=ours.email))
    assert Deal.objects.get().contact == ours


def test_a_rep_cannot_choose_another_owner(owner_client, teammate, stages):
    owner_client.post(reverse("pipeline:deal_new"), _new_deal(stages, owner=teammate.pk))
    assert Deal.objects.get().owner.username == "owner"


def test_a_lost_deal_page_shows_cause_and_side(owner_client, owner):
    deal = make_deal(owner=owner)
    services.deal_close_lost(
        deal=deal, cause="product_gap", side="product", note="シフト制に未対応", by=owner
    )
    html = owner_client.get(reverse("pipeline:deal_detail", args=[deal.pk])).content.decode()
    assert "シフト制に未対応" in html


def test_the_detail_page_runs_the_same_queries_for_short_and_long_histories(
    owner_client, owner, stages, django_assert_num_queries
):
    make_issuer()
    lead = make_lead(company=make_company())
    deal = make_deal(owner=owner, contact=lead)
    url = reverse("pipeline:deal_detail", args=[deal.pk])
    keys = itertools.count(1)

    def grow():
        nonlocal deal
        for name in ("Discovery", "Proposal", "Initial contact"):
            deal = services.deal_move_to_stage(deal=deal, stage=stages[name], position=None, moved_by=owner)
        services.activity_log(
            by=owner, deal=deal, type="call", subject="電話", is_voice=True, voice_text="残業が多い"
        )
        services.task_create(deal=deal, title="見積", due_date=timezone.localdate(), by=owner)
        add_line(deal, owner, product=make_product())
        quote_services.quote_create(deal=Deal.objects.get(pk=deal.pk), by=owner)
        key = f"field{next(keys)}"
        field_definition_create(
            by=None, object_type=CustomObject.DEAL, key=key, field_type=CustomFieldType.TEXT, label_ja=key
        )
        deal = services.deal_update(deal=deal, by=owner, custom={**deal.custom, key: f"{key}の値"})

    grow()
    owner_client.get(url)
    with django_assert_num_queries(DETAIL_QUERIES):
        owner_client.get(url)
    for _ in range(5):
        grow()
    with django_assert_num_queries(DETAIL_QUERIES):
        html = owner_client.get(url).content.decode()
    assert html.count('<tr id="item-') == 6 and html.count('class="in-text" href="/quotes/') == 6
    assert "field6の値" in html and 'name="custom.field6"' in html


# Layout 2 (session; the user with team and unread count). The page's own 2: the deal with its company, contact,
# owner, team, stage, pipeline, campaign and handoff, its number of line items (DEAL_ITEM_COUNT hook: whether the
# amount is the items' total, for the edit form), and its pipeline's stages, latest activities, to-dos, stage
# history and the custom fields' definitions (shown and in the edit form) as JSON arrays (1); the quotes section
# (DEAL_PAGE_SECTIONS hook): line items, issuer, quotes and products in one statement (1). Budget (issue #22): 8,
# a manager's page (one more: the people the deal can be handed to) included.
DETAIL_QUERIES = 4


def test_the_one_query_page_shows_lists_in_order_with_their_people(owner_client, owner, teammate, stages):
    deal = make_deal(owner=owner)
    deal = services.deal_move_to_stage(deal=deal, stage=stages["Discovery"], position=None, moved_by=owner)
    now = timezone.now()
    for days, subject in ((3, "古い電話"), (1, "新しい電話")):
        services.activity_log(
            by=owner, deal=deal, type="call", subject=subject, occurred_at=now - dt.timedelta(days=days)
        )
    services.task_create(
        deal=deal, title="後の見積", due_date=timezone.localdate() + dt.timedelta(days=9), by=owner
    )
    services.task_create(
        deal=deal, title="先の電話", due_date=timezone.localdate(), by=owner, assignee=teammate
    )

    html = owner_client.get(reverse("pipeline:deal_detail", args=[deal.pk])).content.decode()

    assert html.index("新しい電話") < html.index("古い電話")  # newest activity first
    assert html.index("先の電話") < html.index("後の見積")  # the earliest due to-do first
    assert str(teammate) in html  # a to-do for someone else says who
    history = html[html.index('class="data history"') :]
    newest = history[history.index("<tbody>") : history.index("</tr>", history.index("<tbody>"))]
    assert f"<strong>{stages['Discovery'].name_ja}</strong>" in newest  # the latest change first
    assert str(owner) in newest  # who moved it


def test_a_managers_page_adds_only_the_people_to_hand_the_deal_to(
    client, manager, deal, teammate, django_assert_num_queries
):
    client.force_login(manager)
    url = reverse("pipeline:deal_detail", args=[deal.pk])
    client.get(url)
    # One more: the people; their choices are listed and checked without another query.
    with django_assert_num_queries(DETAIL_QUERIES + 1):
        html = client.get(url).content.decode()
    assert f'<option value="{teammate.pk}"' in html and f'<option value="{deal.owner_id}" selected' in html
