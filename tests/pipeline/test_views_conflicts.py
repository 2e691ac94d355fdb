"""Two people on the same card: a move or close made from an old version answers 409 with the card as it is now.

Each client posts the version its page showed (the hidden `version` of the card's move form, the close form, the
deal page's move form), as the browser does.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from pipeline import services
from pipeline.models import Deal, StageChange

pytestmark = pytest.mark.django_db
BOARD = "/pipeline/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _seen_version(client: Client, deal: Deal, url: str = BOARD) -> int:
    """The version the page shows for the deal, from the hidden input of its move form."""
    html = client.get(url).content.decode()
    action = reverse("pipeline:deal_move", args=[deal.pk])
    form = html[html.index(f'action="{action}"') :]
    return int(re.search(r'name="version" value="(\d+)"', form).group(1))


def _oob_columns(html: str) -> list[int]:
    return sorted(map(int, re.findall(r'id="col-(\d+)"[^>]*hx-swap-oob="true"', html)))


def _column_html(html: str, stage_pk: int) -> str:
    start = html.index(f'id="col-{stage_pk}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_two_users_dragging_the_same_card_the_second_gets_409_and_the_card_as_it_is(
    owner, manager, deal, stages
):
    rep, boss = _logged_in(owner), _logged_in(manager)
    rep_saw, boss_saw = _seen_version(rep, deal), _seen_version(boss, deal)
    assert rep_saw == boss_saw == deal.version
    move = reverse("pipeline:deal_move", args=[deal.pk])

    first = rep.post(move, {"stage": stages["Proposal"].pk, "version": rep_saw}, **HTMX)
    second = boss.post(move, {"stage": stages["Discovery"].pk, "version": boss_saw}, **HTMX)

    assert first.status_code == 200
    assert second.status_code == 409
    html = second.content.decode()
    # the column the card is in now and the one the boss dropped it in, redrawn; the card shows its new version
    assert _oob_columns(html) == sorted([stages["Proposal"].pk, stages["Discovery"].pk])
    assert f'id="deal-{deal.pk}"' in _column_html(html, stages["Proposal"].pk)
    assert f'id="deal-{deal.pk}"' not in _column_html(html, stages["Discovery"].pk)
    assert f'name="version" value="{deal.version + 1}"' in html
    assert 'class="message message-error" role="alert"' in html and deal.name in html
    deal.refresh_from_db()
    assert (deal.stage, deal.version) == (stages["Proposal"], rep_saw + 1)
    assert StageChange.objects.filter(deal=deal).count() == 2  # creation and the rep's move only
    # with the redrawn card's version the boss's next drag goes through
    third = boss.post(move, {"stage": stages["Discovery"].pk, "version": deal.version}, **HTMX)
    assert third.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == stages["Discovery"]


def test_a_drag_onto_won_from_an_old_version_gets_409_instead_of_the_dialog(owner, manager, deal, stages):
    boss_saw = _seen_version(_logged_in(manager), deal)
    services.deal_change_stage(deal=deal, stage=stages["Proposal"], by=owner, version=deal.version)

    response = _logged_in(manager).post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Won"].pk, "version": boss_saw},
        **HTMX,
    )

    assert response.status_code == 409
    assert "HX-Retarget" not in response  # no closing dialog for a card that is not what the user saw
    assert _oob_columns(response.content.decode()) == sorted([stages["Proposal"].pk, stages["Won"].pk])


def test_a_close_in_the_dialog_from_an_old_version_gets_409_and_leaves_the_other_close(
    owner, manager, deal, stages
):
    rep, boss = _logged_in(owner), _logged_in(manager)
    close = reverse("pipeline:deal_close", args=[deal.pk])
    seen = deal.version
    lost = rep.post(
        close,
        {
            "stage": stages["Lost"].pk,
            "cause": "price",
            "side": "external",
            "version": seen,
            "from_board": "1",
        },
        **HTMX,
    )
    won = boss.post(
        close, {"stage": stages["Won"].pk, "amount": "3000000", "version": seen, "from_board": "1"}, **HTMX
    )

    assert lost.status_code == 200
    assert won.status_code == 409 and won["HX-Trigger"] == "pipeline-dialog-close"
    html = won.content.decode()
    assert f'id="deal-{deal.pk}"' in _column_html(html, stages["Lost"].pk)
    assert 'role="alert"' in html
    deal.refresh_from_db()
    assert (deal.status, deal.loss_cause, deal.won_amount) == ("lost", "price", None)


def test_the_close_page_from_an_old_version_shows_the_deal_as_it_is_with_409(owner, manager, deal, stages):
    boss = _logged_in(manager)
    close = reverse("pipeline:deal_close", args=[deal.pk])
    page = boss.get(close, {"stage": stages["Won"].pk}).content.decode()
    seen = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    services.deal_update(deal=deal, by=owner, amount=2_900_000, version=seen)

    response = boss.post(close, {"stage": stages["Won"].pk, "amount": "2400000", "version": seen})

    assert response.status_code == 409
    html = response.content.decode()
    assert "form-errors" in html and deal.name in html
    assert "2,900,000" in html  # the deal line shows the amount as it is now
    assert f'name="version" value="{seen + 1}"' in html  # sending it again is a decision taken knowing that
    deal.refresh_from_db()
    assert (deal.status, deal.amount) == ("open", 2_900_000)
    again = boss.post(close, {"stage": stages["Won"].pk, "amount": "2400000", "version": seen + 1})
    assert again.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.won_amount) == ("won", 2_400_000)


def test_without_javascript_a_move_from_an_old_version_says_so_and_changes_nothing(
    owner, manager, deal, stages
):
    boss = _logged_in(manager)
    seen = _seen_version(boss, deal, deal.get_absolute_url())  # the deal page's move form
    services.deal_update(deal=deal, by=owner, next_step="再見積", version=seen)

    response = boss.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Proposal"].pk, "version": seen, "next": deal.get_absolute_url()},
    )

    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error" and deal.name in message.message
    deal.refresh_from_db()
    assert deal.stage == stages["Initial contact"]


def test_a_won_card_dropped_on_lost_must_be_reopened_first(owner_client, deal, stages, owner):
    won = services.deal_close_won(deal=deal, amount=1_000_000, by=owner)

    response = owner_client.post(
        reverse("pipeline:deal_move", args=[deal.pk]),
        {"stage": stages["Lost"].pk, "version": won.version},
        **HTMX,
    )

    assert response.status_code == 422 and "再開してください" in response.content.decode()
    assert "HX-Retarget" not in response
    response = owner_client.post(
        reverse("pipeline:deal_close", args=[deal.pk]),
        {"stage": stages["Lost"].pk, "cause": "price", "side": "external", "version": won.version},
    )
    assert response.status_code == 200 and "再開してください" in response.content.decode()
    deal.refresh_from_db()
    assert (deal.status, deal.won_amount) == ("won", 1_000_000)
    # the won deal's page offers no "Mark as lost" (the move form reopens it)
    page = owner_client.get(deal.get_absolute_url()).content.decode()
    close = reverse("pipeline:deal_close", args=[deal.pk])
    assert f"{close}?stage={stages['Lost'].pk}" not in page and f"{close}?stage={stages['Won'].pk}" in page


def test_saving_the_deal_with_htmx_refreshes_the_version_of_the_page_move_form(owner_client, deal, stages):
    seen = _seen_version(owner_client, deal, deal.get_absolute_url())
    response = owner_client.post(
        reverse("pipeline:deal_edit", args=[deal.pk]),
        {
            "name": deal.name,
            "amount": "2500000",
            "probability": "10",
            "expected_close_date": deal.expected_close_date.isoformat(),
            "source": "sales",
            "version": seen,
        },
        **HTMX,
    )
    html = response.content.decode()
    assert re.search(rf'value="{seen + 1}" id="detail-move-version" hx-swap-oob="true"', html)
