"""Closing rules: won needs an amount, lost needs a cause and a side; the database enforces the same."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from pipeline import services
from pipeline.models import Deal, StageChange
from salesmarketing.models import Notification

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", [None, "", "-1", "abc", "12.5"])
def test_closing_as_won_needs_a_whole_non_negative_amount(deal, owner, amount):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_close_won(deal=deal, amount=amount, by=owner)
    assert list(excinfo.value.message_dict) == ["amount"]
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_closing_as_won_records_the_amount_and_the_stage_change(deal, stages, owner):
    won = services.deal_close_won(deal=deal, amount="2200000", by=owner)

    assert (won.status, won.stage, won.probability) == (Deal.Status.WON, stages["Won"], 100)
    assert won.won_amount == won.amount == Decimal(2_200_000)
    assert won.closed_at is not None
    assert StageChange.objects.filter(deal=deal, to_stage=stages["Won"]).count() == 1

    again = services.deal_close_won(deal=won, amount=2_200_000, by=owner)
    assert again.version == won.version
    assert StageChange.objects.filter(deal=deal).count() == 2


@pytest.mark.parametrize(
    ("cause", "side", "missing"),
    [
        ("", "", {"cause", "side"}),
        ("price", "", {"side"}),
        ("", "sales", {"cause"}),
        ("bogus", "nobody", {"cause", "side"}),
    ],
)
def test_closing_as_lost_needs_a_cause_and_a_side(deal, owner, cause, side, missing):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_close_lost(deal=deal, cause=cause, side=side, by=owner)
    assert set(excinfo.value.message_dict) == missing


def test_closing_as_lost_keeps_cause_side_and_note(deal, stages, owner):
    lost = services.deal_close_lost(
        deal=deal, cause="poor_fit", side="marketing", note=" 資料を見ただけ ", by=owner
    )

    assert (lost.status, lost.stage, lost.probability) == (Deal.Status.LOST, stages["Lost"], 0)
    assert (lost.loss_cause, lost.loss_side, lost.loss_note) == ("poor_fit", "marketing", "資料を見ただけ")
    assert lost.won_amount is None


def test_a_lost_deal_won_after_all_is_reopened_first_and_drops_its_loss_cause(deal, stages, owner):
    lost = services.deal_close_lost(deal=deal, cause="timing", side="external", by=owner)
    reopened = services.deal_change_stage(deal=lost, stage=stages["Proposal"], by=owner, version=lost.version)
    won = services.deal_change_stage(
        deal=reopened, stage=stages["Won"], by=owner, version=reopened.version, amount=1_000_000
    )

    assert (won.status, won.loss_cause, won.loss_side) == ("won", "", "")
    assert list(StageChange.objects.filter(deal=deal).values_list("to_stage", flat=True)) == [
        stages["Initial contact"].pk,
        stages["Lost"].pk,
        stages["Proposal"].pk,
        stages["Won"].pk,
    ]


@pytest.mark.parametrize(("first", "then"), [("Won", "Lost"), ("Lost", "Won")])
def test_won_and_lost_do_not_flip_into_each_other_without_reopening(deal, stages, owner, first, then):
    close = {"amount": 1_000_000, "cause": "price", "side": "external"}
    closed = services.deal_change_stage(deal=deal, stage=stages[first], by=owner, **close)

    with pytest.raises(ValidationError) as excinfo:
        services.deal_change_stage(deal=closed, stage=stages[then], by=owner, version=closed.version, **close)

    assert list(excinfo.value.message_dict) == ["stage"]
    assert "再開してください" in excinfo.value.message_dict["stage"][0]
    deal.refresh_from_db()
    assert (deal.status, deal.stage, deal.version) == (first.lower(), stages[first], closed.version)
    with pytest.raises(ValidationError):  # the named services keep the same rule
        if then == "Won":
            services.deal_close_won(deal=closed, amount=1, by=owner)
        else:
            services.deal_close_lost(deal=closed, cause="price", side="external", by=owner)


def test_a_close_based_on_an_old_version_is_refused_with_the_current_deal(deal, stages, owner):
    seen = deal.version
    moved = services.deal_move_to_stage(deal=deal, stage=stages["Proposal"], moved_by=owner, version=seen)

    for stage, close in (
        (stages["Won"], {"amount": 5}),
        (stages["Lost"], {"cause": "price", "side": "sales"}),
    ):
        with pytest.raises(services.DealChangedError) as excinfo:
            services.deal_change_stage(deal=deal, stage=stage, by=owner, version=seen, **close)
        assert excinfo.value.current.pk == deal.pk
        assert (excinfo.value.current.stage, excinfo.value.current.version) == (
            stages["Proposal"],
            moved.version,
        )
    deal.refresh_from_db()
    assert (deal.status, deal.version) == ("open", moved.version)


def test_the_same_close_sent_twice_is_no_conflict(deal, stages, owner):
    seen = deal.version
    won = services.deal_change_stage(deal=deal, stage=stages["Won"], by=owner, version=seen, amount=900_000)
    again = services.deal_change_stage(deal=deal, stage=stages["Won"], by=owner, version=seen, amount=900_000)
    assert again.version == won.version == seen + 1
    with pytest.raises(services.DealChangedError):  # a different amount on the old version is a conflict
        services.deal_change_stage(deal=deal, stage=stages["Won"], by=owner, version=seen, amount=1)


def test_winning_tells_the_team_manager_after_commit(
    deal, owner, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.deal_close_won(deal=deal, amount=2_400_000, by=owner)
    # One notification; the rest hand the deal's events (stage changed, won) to integrations.
    assert len([c for c in callbacks if c.__qualname__ != "_after_commit.<locals>.dispatch_emitted"]) == 1
    note = Notification.objects.get(recipient=manager)
    assert deal.name in note.text[0]
    assert note.url == deal.get_absolute_url()


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "lost", "closed_at": "2026-01-01T00:00:00Z"},  # lost without cause and side
        {"status": "lost", "closed_at": "2026-01-01T00:00:00Z", "loss_cause": "price"},  # without a side
        {"status": "won", "closed_at": "2026-01-01T00:00:00Z"},  # won without an amount
        {"status": "won", "won_amount": 1},  # closed without a closing time
        {"amount": -1},
        {"probability": 101},
    ],
)
def test_the_database_refuses_deals_that_break_the_rules(deal, changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(**changes)


def test_amounts_and_probabilities_are_checked_before_the_database(deal, owner):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_update(deal=deal, by=owner, amount=-5)
    assert "amount" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.deal_update(deal=deal, by=owner, probability=120)
    assert "probability" in excinfo.value.message_dict


def test_an_edit_based_on_an_old_version_is_refused(deal, owner):
    services.deal_update(deal=deal, by=owner, amount=3_000_000, version=deal.version)
    with pytest.raises(services.DealChangedError):
        services.deal_update(deal=deal, by=owner, amount=1, version=deal.version)


def test_handing_a_deal_to_a_teammate_moves_team_and_notifies(
    deal, owner, teammate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        updated = services.deal_update(deal=deal, by=owner, owner=teammate)
    assert updated.owner == teammate
    assert updated.team == teammate.team
    assert Notification.objects.filter(recipient=teammate).count() == 1
