"""Closing a deal from the board dialog or its page: errors sit next to their fields."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from pipeline.models import Deal

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _field_block(html: str, name: str) -> str:
    """The form-field wrapper (label, input, errors) of one field."""
    pattern = r'<div class="field[^"]*">(?:(?!<div class="field).)*?name="' + re.escape(name) + r'".*?</div>'
    match = re.search(pattern, html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def test_closing_as_won_without_an_amount_shows_the_error_at_the_amount(owner_client, deal, stages):
    url = reverse("pipeline:deal_close", args=[deal.pk])
    response = owner_client.post(url, {"stage": stages["Won"].pk, "amount": ""})
    assert response.status_code == 200
    block = _field_block(response.content.decode(), "amount")
    assert "has-error" in block and 'class="error"' in block
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_closing_as_lost_without_a_side_shows_the_error_at_the_side(owner_client, deal, stages):
    url = reverse("pipeline:deal_close", args=[deal.pk])
    html = owner_client.post(url, {"stage": stages["Lost"].pk, "cause": "price", "side": ""}).content.decode()
    assert 'class="error"' in _field_block(html, "side")
    assert 'class="error"' not in _field_block(html, "cause")
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_closing_as_lost_from_its_page_goes_back_to_next(owner_client, deal, stages):
    url = reverse("pipeline:deal_close", args=[deal.pk])
    response = owner_client.post(
        url,
        {
            "stage": stages["Lost"].pk,
            "cause": "poor_fit",
            "side": "marketing",
            "note": "ターゲット外",
            "next": "/pipeline/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/pipeline/"
    deal.refresh_from_db()
    assert (deal.status, deal.loss_cause, deal.loss_side, deal.loss_note) == (
        "lost",
        "poor_fit",
        "marketing",
        "ターゲット外",
    )


def test_closing_from_the_board_dialog_answers_with_the_two_columns_and_closes_the_dialog(
    owner_client, deal, stages
):
    url = reverse("pipeline:deal_close", args=[deal.pk])
    response = owner_client.post(
        url, {"stage": stages["Won"].pk, "amount": "2500000", "from_board": "1", "scope": "mine"}, **HTMX
    )
    assert response["HX-Trigger"] == "pipeline-dialog-close"
    html = response.content.decode()
    oob = re.findall(r'id="col-(\d+)"[^>]*hx-swap-oob="true"', html)
    assert sorted(map(int, oob)) == sorted([stages["Initial contact"].pk, stages["Won"].pk])
    deal.refresh_from_db()
    assert (deal.status, deal.won_amount) == ("won", 2_500_000)


def test_an_invalid_dialog_answers_with_the_form_and_its_errors(owner_client, deal, stages):
    url = reverse("pipeline:deal_close", args=[deal.pk])
    response = owner_client.post(url, {"stage": stages["Lost"].pk, "from_board": "1"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="close-form"')
    assert 'class="error"' in _field_block(html, "cause") and 'class="error"' in _field_block(html, "side")
    assert 'name="from_board"' in html  # still the dialog version


def test_an_open_stage_is_not_a_closing_stage(owner_client, deal, stages):
    url = reverse("pipeline:deal_close", args=[deal.pk]) + f"?stage={stages['Proposal'].pk}"
    assert owner_client.get(url).status_code == 404
