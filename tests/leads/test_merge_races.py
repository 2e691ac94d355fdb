"""Two people merge the same pair at the same moment, each keeping a different record: one merge wins, the other
is refused, and nothing is lost (every touch, visitor and handoff ends on the one survivor)."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from leads.choices import TouchType
from leads.merge.services import lead_merge
from leads.models import Handoff, Lead, MergeRecord, Touch, Visitor
from leads.services import touch_record
from salesmarketing import hooks
from tests.conftest import require_or_skip
from tests.leads.factories import HandoffFactory, make_lead


@pytest.fixture
def slow_merges():
    """Each merge holds its locks a moment after moving leads' rows (as a busy higher app would), so the two
    transactions overlap for certain."""

    def linger(**kwargs) -> dict[str, int]:
        time.sleep(0.3)
        return {}

    hooks.register(hooks.LEAD_MERGING, linger)
    yield
    hooks._registry[hooks.LEAD_MERGING].remove(linger)


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_pair_at_once_one_wins_nothing_lost(manager, slow_merges):
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    first = make_lead("taro@kansa.example.jp", name="山田 太郎")
    second = make_lead("taro+x@kansa.example.jp", name="山田 太郎")
    for lead in (first, second):
        for i in range(3):
            touch_record(lead=lead, type=TouchType.PAGE_VIEW, source="t", idempotency_key=f"{lead.pk}-{i}")
        Visitor.objects.create(visitor_id=f"v-{lead.pk}", lead=lead)
    HandoffFactory(lead=second, state=Handoff.State.ASSIGNED)

    barrier = threading.Barrier(2)
    won, refused, errors = [], [], []

    def merge(survivor_id: int, merged_id: int) -> None:
        try:
            barrier.wait()
            won.append(lead_merge(survivor_id=survivor_id, merged_id=merged_id, taken={}, by=manager).pk)
        except ValidationError as exc:
            refused.append(exc.code)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=merge, args=(first.pk, second.pk)),
        threading.Thread(target=merge, args=(second.pk, first.pk)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == [] and len(won) == 1 and refused == ["merged"]
    (survivor,) = Lead.objects.all()
    assert survivor.pk == won[0]
    assert Lead.all_objects.get(merged_into=survivor).pk in (first.pk, second.pk)
    assert Touch.objects.count() == Touch.objects.filter(lead=survivor).count() == 6
    assert Visitor.objects.filter(lead=survivor).count() == 2
    assert Handoff.objects.get().lead_id == survivor.pk
    assert MergeRecord.objects.count() == 1
