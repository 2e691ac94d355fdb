"""deal_move_to_stage: history, probability, ordering within a column, repeats and concurrent moves."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from pipeline import services
from pipeline.models import Deal, StageChange
from tests.conftest import require_or_skip
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def _history(deal: Deal) -> list[tuple]:
    return list(
        StageChange.objects.filter(deal=deal)
        .order_by("changed_at", "id")
        .values_list("from_stage", "to_stage")
    )


def _column(stage) -> list[int]:
    return list(Deal.objects.filter(stage=stage).order_by("position", "id").values_list("pk", flat=True))


def test_a_new_deal_starts_in_the_first_stage_with_its_probability_and_a_creation_row(deal, stages):
    assert deal.stage == stages["Initial contact"]
    assert deal.probability == 10
    assert _history(deal) == [(None, stages["Initial contact"].pk)]


def test_moving_records_who_moved_it_and_takes_the_stage_probability(deal, stages, owner):
    moved = services.deal_move_to_stage(deal=deal, stage=stages["Proposal"], position=None, moved_by=owner)

    assert moved.stage == stages["Proposal"]
    assert moved.probability == 40
    assert moved.version == deal.version + 1
    change = StageChange.objects.filter(deal=deal).latest("changed_at", "id")
    assert (change.from_stage, change.to_stage, change.changed_by) == (
        stages["Initial contact"],
        stages["Proposal"],
        owner,
    )
    assert change.seconds_in_from_stage is not None and change.seconds_in_from_stage >= 0


def test_repeating_the_same_move_changes_nothing(deal, stages, owner):
    first = services.deal_move_to_stage(deal=deal, stage=stages["Discovery"], position=0, moved_by=owner)
    again = services.deal_move_to_stage(deal=first, stage=stages["Discovery"], position=0, moved_by=owner)
    form_again = services.deal_move_to_stage(
        deal=first, stage=stages["Discovery"], position=None, moved_by=owner
    )

    assert StageChange.objects.filter(deal=deal).count() == 2
    assert again.version == form_again.version == first.version


def test_a_repeated_drop_between_the_same_neighbours_changes_nothing(owner, stages):
    proposal = stages["Proposal"]
    a, b, c = (make_deal(owner=owner, stage=proposal) for _ in range(3))
    mover = make_deal(owner=owner)
    column = _column(proposal)  # newest on top: c, b, a
    assert column == [c.pk, b.pk, a.pk]

    for _attempt in range(2):  # the same drop posted twice (a slow connection)
        mover.refresh_from_db()
        index = services.drop_index(deal=mover, stage=proposal, before_id=a.pk, after_id=b.pk)
        services.deal_move_to_stage(deal=mover, stage=proposal, position=index, moved_by=owner)

    assert _column(proposal) == [c.pk, b.pk, mover.pk, a.pk]
    assert StageChange.objects.filter(deal=mover).count() == 2


def test_reordering_within_a_column_keeps_the_history(owner, stages):
    proposal = stages["Proposal"]
    a, b, c = (make_deal(owner=owner, stage=proposal) for _ in range(3))
    assert _column(proposal) == [c.pk, b.pk, a.pk]

    # drag the top card (c) below the last one (a): its new upper neighbour is a
    index = services.drop_index(deal=c, stage=proposal, before_id=None, after_id=a.pk)
    services.deal_move_to_stage(deal=c, stage=proposal, position=index, moved_by=owner)
    assert _column(proposal) == [b.pk, a.pk, c.pk]
    # and back to the top, above b
    c.refresh_from_db()
    index = services.drop_index(deal=c, stage=proposal, before_id=b.pk, after_id=None)
    services.deal_move_to_stage(deal=c, stage=proposal, position=index, moved_by=owner)
    assert _column(proposal) == [c.pk, b.pk, a.pk]
    assert StageChange.objects.filter(deal=c).count() == 1  # creation only: no stage changed


def test_a_column_with_no_gap_left_is_spread_out_again(owner, stages):
    proposal = stages["Proposal"]
    a, b = make_deal(owner=owner, stage=proposal), make_deal(owner=owner, stage=proposal)
    Deal.objects.filter(pk=b.pk).update(position=10)
    Deal.objects.filter(pk=a.pk).update(position=11)
    mover = make_deal(owner=owner)

    services.deal_move_to_stage(deal=mover, stage=proposal, position=1, moved_by=owner)

    assert _column(proposal) == [b.pk, mover.pk, a.pk]
    positions = list(
        Deal.objects.filter(stage=proposal).order_by("position").values_list("position", flat=True)
    )
    assert len(set(positions)) == 3


def test_won_and_lost_stages_need_the_closing_forms(deal, stages, owner):
    for name in ("Won", "Lost"):
        with pytest.raises(ValidationError) as excinfo:
            services.deal_move_to_stage(deal=deal, stage=stages[name], position=None, moved_by=owner)
        assert "stage" in excinfo.value.message_dict
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_a_stage_of_another_pipeline_is_refused(deal, owner):
    other = services.pipeline_create(name="代理店経由", stages=services.DEFAULT_STAGES)
    with pytest.raises(ValidationError):
        services.deal_move_to_stage(deal=deal, stage=other.stages.first(), position=None, moved_by=owner)


def test_moving_a_closed_deal_to_an_open_stage_reopens_it(deal, stages, owner):
    lost = services.deal_close_lost(deal=deal, cause="price", side="external", note="高い", by=owner)
    reopened = services.deal_move_to_stage(deal=lost, stage=stages["Proposal"], position=None, moved_by=owner)

    assert reopened.status == Deal.Status.OPEN
    assert reopened.closed_at is None
    assert (reopened.loss_cause, reopened.loss_side, reopened.loss_note) == ("", "", "")
    assert _history(deal)[-2:] == [
        (stages["Initial contact"].pk, stages["Lost"].pk),
        (stages["Lost"].pk, stages["Proposal"].pk),
    ]


def test_a_move_based_on_an_old_version_is_refused(deal, stages, owner):
    seen = deal.version
    services.deal_update(deal=deal, by=owner, next_step="見積提出", version=seen)

    with pytest.raises(services.DealChangedError) as excinfo:
        services.deal_change_stage(deal=deal, stage=stages["Proposal"], by=owner, version=seen)

    assert excinfo.value.current.version == seen + 1
    deal.refresh_from_db()
    assert deal.stage == stages["Initial contact"]
    assert _history(deal) == [(None, stages["Initial contact"].pk)]
    moved = services.deal_change_stage(deal=deal, stage=stages["Proposal"], by=owner, version=seen + 1)
    assert (moved.stage, moved.version) == (stages["Proposal"], seen + 2)


def test_a_reorder_based_on_an_old_version_is_refused_but_a_repeat_is_not(owner, stages):
    a, b = make_deal(owner=owner), make_deal(owner=owner)  # b on top
    seen = b.version
    services.deal_change_stage(deal=b, stage=b.stage, position=1, by=owner, version=seen)
    # the same drop again (a double submit) finds the card where it was asked to be: nothing to refuse
    assert (
        services.deal_change_stage(deal=b, stage=b.stage, position=1, by=owner, version=seen).version
        == seen + 1
    )
    with pytest.raises(services.DealChangedError):
        services.deal_change_stage(deal=b, stage=b.stage, position=0, by=owner, version=seen)
    assert _column(stages["Initial contact"]) == [a.pk, b.pk]


def test_each_change_starts_where_the_previous_one_ended(deal, stages, owner):
    for name in ("Discovery", "Proposal", "Discovery", "Quote & negotiation"):
        deal = services.deal_move_to_stage(deal=deal, stage=stages[name], position=None, moved_by=owner)
    deal = services.deal_close_won(deal=deal, amount=3_000_000, by=owner)

    history = _history(deal)
    assert all(history[i][0] == history[i - 1][1] for i in range(1, len(history)))
    assert history[-1][1] == deal.stage_id == stages["Won"].pk


# --- Concurrency (PostgreSQL: row locks; SQLite serialises every writer, so there is no race to test) --------


def _in_thread(target, errors: list):
    def run():
        try:
            target()
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_move_waits_and_starts_where_the_first_ended(owner, stages):
    require_or_skip(
        connection.vendor == "postgresql", "row locks need PostgreSQL (SQLite serialises writers)"
    )
    deal = make_deal(owner=owner)
    first_has_lock = threading.Event()
    errors: list = []

    def slow_first():
        with transaction.atomic():
            services.deal_move_to_stage(deal=deal, stage=stages["Proposal"], position=None, moved_by=owner)
            first_has_lock.set()
            time.sleep(0.5)  # hold the row lock while the second move arrives

    def second():
        first_has_lock.wait(5)
        services.deal_move_to_stage(deal=deal, stage=stages["Discovery"], position=None, moved_by=owner)

    threads = [_in_thread(slow_first, errors), _in_thread(second, errors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []

    deal.refresh_from_db()
    assert deal.stage == stages["Discovery"]  # the last write wins
    assert _history(deal) == [
        (None, stages["Initial contact"].pk),
        (stages["Initial contact"].pk, stages["Proposal"].pk),
        (stages["Proposal"].pk, stages["Discovery"].pk),  # not "Initial contact → Discovery"
    ]
    assert deal.version == 3


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_moves_of_one_deal_leave_a_consistent_history(owner, stages):
    require_or_skip(
        connection.vendor == "postgresql", "row locks need PostgreSQL (SQLite serialises writers)"
    )
    deal = make_deal(owner=owner)
    targets = [stages[n] for n in ("Discovery", "Proposal", "Quote & negotiation", "Initial contact")]
    barrier = threading.Barrier(8)
    errors: list = []

    def mover(offset: int):
        def run():
            barrier.wait(10)
            for step in range(6):
                stage = targets[(offset + step) % len(targets)]
                services.deal_move_to_stage(deal=deal, stage=stage, position=0, moved_by=owner)

        return run

    threads = [_in_thread(mover(i), errors) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []

    deal.refresh_from_db()
    history = _history(deal)
    assert history[0] == (None, stages["Initial contact"].pk)
    for previous, current in zip(history, history[1:], strict=False):
        assert current[0] == previous[1], "a stage change does not start where the previous one ended"
        assert current[0] != current[1]
    assert history[-1][1] == deal.stage_id  # the deal is where its last recorded change put it
    assert deal.probability == deal.stage.probability
