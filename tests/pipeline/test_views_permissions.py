"""Reps see and edit only their own deals, managers their team's, admins all; everyone else gets a 404.
Marketing reads every deal (its board defaults to marketing-sourced ones) and changes none."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.models import Deal
from pipeline.services import deal_create_from_handoff
from tests.leads.factories import make_handoff, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def _endpoints(deal, stages):
    pk = deal.pk
    return [
        ("get", reverse("pipeline:deal_detail", args=[pk]), {}),
        (
            "post",
            reverse("pipeline:deal_edit", args=[pk]),
            {"name": "x", "amount": 1, "probability": 1, "version": 1},
        ),
        ("post", reverse("pipeline:deal_move", args=[pk]), {"stage": stages["Proposal"].pk}),
        ("get", reverse("pipeline:deal_close", args=[pk]) + f"?stage={stages['Won'].pk}", {}),
        ("post", reverse("pipeline:deal_close", args=[pk]), {"stage": stages["Won"].pk, "amount": 1}),
        ("post", reverse("pipeline:activity_create", args=[pk]), {"type": "call", "subject": "x"}),
        ("post", reverse("pipeline:task_create", args=[pk]), {"title": "x", "due_date": "2030-01-01"}),
    ]


@pytest.mark.parametrize("who", ["teammate", "outsider"])
def test_other_peoples_deals_answer_404_on_view_and_edit(client, deal, stages, who, request):
    client.force_login(request.getfixturevalue(who))
    for method, url, data in _endpoints(deal, stages):
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, f"{method.upper()} {url}"
    deal.refresh_from_db()
    assert deal.stage == stages["Initial contact"] and deal.version == 1


def test_a_task_of_someone_elses_deal_answers_404(client, deal, teammate, owner):
    from pipeline.services import task_create

    task = task_create(deal=deal, title="電話", due_date=deal.expected_close_date, by=owner)
    client.force_login(teammate)
    assert client.post(reverse("pipeline:task_done", args=[task.pk])).status_code == 404


def test_the_owner_sees_and_edits_their_deal(owner_client, deal, stages):
    assert owner_client.get(reverse("pipeline:deal_detail", args=[deal.pk])).status_code == 200
    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]), {"stage": stages["Proposal"].pk}
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]


def test_a_manager_sees_and_edits_the_teams_deals_but_not_other_teams(
    client, manager, deal, outsider, stages
):
    other_team_deal = make_deal(owner=outsider)
    client.force_login(manager)

    assert client.get(reverse("pipeline:deal_detail", args=[deal.pk])).status_code == 200
    assert (
        client.post(
            reverse("pipeline:deal_move", args=[deal.pk]), {"stage": stages["Discovery"].pk}
        ).status_code
        == 302
    )
    assert client.get(reverse("pipeline:deal_detail", args=[other_team_deal.pk])).status_code == 404

    board = client.get(reverse("pipeline:board")).content.decode()
    assert deal.name in board
    assert other_team_deal.name not in board


def test_an_admin_sees_every_deal(client, admin_user, deal, outsider):
    other_team_deal = make_deal(owner=outsider)
    client.force_login(admin_user)
    assert client.get(reverse("pipeline:deal_detail", args=[other_team_deal.pk])).status_code == 200
    board = client.get(reverse("pipeline:board")).content.decode()
    assert deal.name in board and other_team_deal.name in board


def test_a_reps_board_shows_only_their_deals_whatever_the_scope(client, owner, teammate, deal):
    theirs = make_deal(owner=teammate, name="同僚の商談")
    client.force_login(owner)
    for scope in ("", "team", "all"):
        page = client.get(reverse("pipeline:board"), {"scope": scope}).content.decode()
        assert deal.name in page
        assert theirs.name not in page


def test_pages_need_a_login(client, deal):
    response = client.get(reverse("pipeline:board"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _marketing_sourced_deal(owner) -> Deal:
    return deal_create_from_handoff(handoff=make_handoff(lead=make_lead(), owner=owner), by=owner)


def test_a_marketer_reads_a_deal_without_any_control_to_change_it(client, marketer, owner, stages):
    deal = _marketing_sourced_deal(owner)
    client.force_login(marketer)

    response = client.get(reverse("pipeline:deal_detail", args=[deal.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert deal.name in html
    for action in ("deal_move", "deal_edit", "activity_create", "task_create", "deal_close"):
        assert reverse(f"pipeline:{action}", args=[deal.pk]) not in html, action
    assert '<form class="task-form"' not in html and '<form class="activity-form"' not in html


@pytest.mark.parametrize("sourced", [True, False], ids=["marketing-sourced", "sales-made"])
def test_a_marketers_forged_writes_are_refused_and_change_nothing(client, marketer, owner, stages, sourced):
    deal = _marketing_sourced_deal(owner) if sourced else make_deal(owner=owner)
    stage_id, version = deal.stage_id, deal.version
    client.force_login(marketer)

    for method, url, data in _endpoints(deal, stages)[1:]:
        assert getattr(client, method)(url, data).status_code == 404, f"{method.upper()} {url}"
    assert client.get(reverse("pipeline:deal_new")).status_code == 403
    assert client.post(reverse("pipeline:deal_new"), {"name": "偽の商談"}).status_code == 403

    deal.refresh_from_db()
    assert (deal.stage_id, deal.version) == (stage_id, version)
    assert not deal.activities.exists() and not deal.tasks.exists()
    assert not Deal.objects.filter(name="偽の商談").exists()


def test_a_marketers_board_shows_marketing_sourced_deals_first_and_every_deal_on_request(
    client, marketer, owner
):
    sourced = _marketing_sourced_deal(owner)
    # Labelled "marketing" by hand, without a handoff: not marketing-sourced (DESIGN.md, KPI definitions).
    labelled = make_deal(owner=owner, name="手入力のマーケ商談", source=Deal.Source.MARKETING)
    client.force_login(marketer)

    page = client.get(reverse("pipeline:board")).content.decode()
    assert sourced.name in page and labelled.name not in page
    assert 'id="scope-note"' in page  # says why the board holds what it holds
    assert reverse("pipeline:deal_new") not in page
    assert "deal-move-form" not in page and "board.js" not in page  # no move forms, no drag

    every_deal = client.get(reverse("pipeline:board"), {"scope": "all"}).content.decode()
    assert sourced.name in every_deal and labelled.name in every_deal
    assert "deal-move-form" not in every_deal


def test_a_marketers_forecast_counts_marketing_sourced_deals(client, marketer, owner):
    _marketing_sourced_deal(owner)
    make_deal(owner=owner, amount=7_000_000, source=Deal.Source.MARKETING)
    client.force_login(marketer)

    sourced = client.get(reverse("pipeline:forecast"))
    every_deal = client.get(reverse("pipeline:forecast"), {"scope": "all"})

    assert sourced.context["forecast"].total.count == 1
    assert every_deal.context["forecast"].total.count == 2
    assert 'id="scope-note"' in sourced.content.decode()
