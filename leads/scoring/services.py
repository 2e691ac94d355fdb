"""Scoring writes: score a batch and turn crossing the MQL threshold into exactly one handoff; full rescores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone, translation
from django.utils.translation import gettext

from leads.bulk import events_insert
from leads.choices import LifecycleStage
from leads.lifecycle import leads_lifecycle_recorded
from leads.models import Handoff, Lead, RescoreBatch, RescoreRun, ScoringConfig, ScoringGroup, ScoringRule
from leads.scoring.engine import LeadFilter, explain, score_leads
from leads.services import BATCH_LANE, lane
from salesmarketing import events
from salesmarketing.celery import queue_task

# Lead ids per batch task: a few seconds of SQL each at design scale (the default 20,000).
RESCORE_BATCH_SIZE = settings.RESCORE_BATCH_SIZE
# Lead ids per transaction within a batch: how long a rescore holds any lead's row.
RESCORE_STEP_SIZE = settings.RESCORE_STEP_SIZE
# A smaller table is still split into this many batches, so that the bulk workers' processes share it.
RESCORE_MIN_BATCHES = 4
ASSIGN_BATCH = 100  # handoff ids per assign_handoffs task


def leads_score_and_qualify(
    lead_ids: list[int], *, now: dt.datetime | None = None, queue_assignment: bool = True
) -> list[int]:
    """Rescore these leads and hand over the ones that now qualify. Returns the ids of new handoffs, whose
    assignment is queued after commit, unless `queue_assignment` is False: then the caller assigns them."""
    now = now or timezone.now()
    ids = tuple(sorted(set(lead_ids)))
    lead_filter = LeadFilter(ids=ids)
    with transaction.atomic():
        score_leads(lead_filter, now=now)
        return _qualify(lead_filter, now=now, assign=lane(len(ids)) if queue_assignment else None)


def _qualify(lead_filter: LeadFilter, *, now: dt.datetime, assign: dict[str, Any] | None) -> list[int]:
    """Flip qualifying leads to MQL and create their handoffs, in the caller's transaction; their assignment is
    queued with the `assign` options (None: not queued, the caller assigns): the lane of the work that scored
    them (`leads.services.lane`), so that a batch's few MQLs are assigned in the batch lane, never queued on
    `realtime` ahead of a single capture's.

    The conditional UPDATE … RETURNING claims each lead for exactly one worker (a concurrent worker re-checks
    the condition after the row lock and finds it no longer holds); the partial unique index on open handoffs
    backs that up in the database.
    """
    config = ScoringConfig.get()
    where, params = lead_filter.sql("id")
    qualifies = f"""{where} AND merged_into_id IS NULL AND fit_score >= %s AND total_score >= %s
              AND (lifecycle_stage IN (%s, %s)
                   OR (lifecycle_stage = %s AND recycled_at IS NOT NULL AND last_touch_at > recycled_at))"""
    qualify_params = [
        *params, config.fit_threshold, config.total_threshold,
        LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD, LifecycleStage.RECYCLED,
    ]  # fmt: skip
    lock = " ORDER BY id FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        # The stages the flipping leads leave, for their lifecycle history; locked, so they cannot move between
        # this read and the UPDATE.
        cursor.execute(f"SELECT id, lifecycle_stage FROM leads_lead WHERE {qualifies}{lock}", qualify_params)
        left = dict(cursor.fetchall())
        if not left:
            return []
        cursor.execute(
            f"UPDATE leads_lead SET lifecycle_stage = %s, mql_at = %s, updated_at = %s WHERE {qualifies} RETURNING id",
            [LifecycleStage.MQL, now, now, *qualify_params],
        )
        flipped = [row[0] for row in cursor.fetchall()]
    if not flipped:
        return []
    with translation.override(settings.LANGUAGE_CODE):
        leads_lifecycle_recorded(
            changes={lead_id: left.get(lead_id, LifecycleStage.LEAD) for lead_id in flipped},
            to=LifecycleStage.MQL,
            at=now,
            reason=gettext("Score crossed the MQL threshold"),
        )
    # The reason is stored: it names the rules in the site's language, whoever's request (or worker) ran this.
    with translation.override(settings.LANGUAGE_CODE):
        why = explain(flipped, now=now)
    leads = Lead.objects.in_bulk(flipped)
    events_insert(
        kind=events.LEAD_MQL,
        subject_type="lead",
        payloads=[
            (pk, {"lead_id": pk, "fit_score": leads[pk].fit_score, "total_score": leads[pk].total_score})
            for pk in flipped
        ],
        at=now,
    )
    Handoff.objects.bulk_create(
        [
            Handoff(
                lead_id=lead_id,
                mql_at=now,
                score_at_handoff=leads[lead_id].total_score,
                fit_at_handoff=leads[lead_id].fit_score,
                campaign_id=leads[lead_id].first_touch_campaign_id,
                reason=reason_text(why.get(lead_id, [])),
            )
            for lead_id in flipped
        ],
        ignore_conflicts=True,
    )
    handoff_ids = list(
        Handoff.objects.filter(lead_id__in=flipped, state=Handoff.State.UNASSIGNED).values_list(
            "id", flat=True
        )
    )
    if assign is not None:  # a rule change can flip thousands of leads at once: the tasks stay small
        for start in range(0, len(handoff_ids), ASSIGN_BATCH):
            transaction.on_commit(
                _assign_after_commit(handoff_ids[start : start + ASSIGN_BATCH], assign), robust=True
            )
    return handoff_ids


def _assign_after_commit(handoff_ids: list[int], options: dict[str, Any]) -> Callable[[], None]:
    def enqueue_assign() -> None:  # named: Django logs a failed robust callback by its __qualname__
        queue_task("leads.tasks.assign_handoffs", handoff_ids, **options)

    return enqueue_assign


def reason_text(contributions, limit: int = 4) -> str:
    """'ウェビナー参加 +20, 料金ページ ×3 +15, 部長 +15': why a lead is hot, biggest reasons first."""
    parts = []
    counted = sorted(
        (c for c in contributions if round(c.counted) > 0), key=lambda c: (-round(c.counted), -c.matches)
    )
    for c in counted[:limit]:
        times = f" ×{c.matches}" if c.matches > 1 else ""
        parts.append(f"{c.name}{times} +{round(c.counted)}")
    return ", ".join(parts)


# --- Full rescore --------------------------------------------------------------------------------------------


def rescore_start(*, reason: str) -> RescoreRun:
    """Split every lead into id-range batches and queue them; workers share the batches."""
    config = ScoringConfig.get()
    bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    with transaction.atomic():
        run = RescoreRun.objects.create(version=config.version, reason=reason)
        batches = []
        if bounds["lo"] is not None:
            size = min(RESCORE_BATCH_SIZE, -(-(bounds["hi"] - bounds["lo"] + 1) // RESCORE_MIN_BATCHES))
            for first in range(bounds["lo"], bounds["hi"] + 1, size):
                batches.append(RescoreBatch(run=run, first_id=first, last_id=first + size - 1))
        RescoreBatch.objects.bulk_create(batches)
        run.total_batches = len(batches)
        if not batches:
            run.finished_at = timezone.now()
        run.save(update_fields=["total_batches", "finished_at"])
        batch_ids = [b.pk for b in RescoreBatch.objects.filter(run=run).order_by("first_id")]
        transaction.on_commit(_rescore_after_commit(batch_ids), robust=True)
    return run


def _rescore_after_commit(batch_ids: list[int]) -> Callable[[], None]:
    def enqueue_rescore() -> None:  # named: Django logs a failed robust callback by its __qualname__
        for batch_id in batch_ids:
            queue_task("leads.tasks.rescore_batch", batch_id)

    return enqueue_rescore


def rescore_batch_run(*, batch_id: int, now: dt.datetime | None = None) -> bool:
    """Score one batch, a transaction per step of RESCORE_STEP_SIZE lead ids, then mark it done. Returns False
    when it was already done, so a redelivered task (worker killed after the work) changes nothing.

    A step holds its leads' rows until it commits: steps keep that to a fraction of a second, so an event batch
    or an assignment that needs one of them (at full priority, while this runs niced) waits that long, not for
    the whole batch. A batch cut short by a crash is run again whole: its committed steps find nothing changed.
    """
    now = now or timezone.now()
    batch = RescoreBatch.objects.filter(pk=batch_id, done_at__isnull=True).first()
    if batch is None:
        return False
    first: int | None = batch.first_id
    while first is not None:
        last = min(first + RESCORE_STEP_SIZE - 1, batch.last_id)
        lead_filter = LeadFilter(first_id=first, last_id=last)
        with transaction.atomic():
            score_leads(lead_filter, now=now, only_changed=True)
            _qualify(lead_filter, now=now, assign=BATCH_LANE)
        # The next step starts at the next lead, so gaps in the ids cost no empty steps.
        first = (
            Lead.all_objects.filter(pk__gt=last, pk__lte=batch.last_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        ).first()
    with transaction.atomic():
        if not RescoreBatch.objects.filter(pk=batch_id, done_at__isnull=True).update(done_at=now):
            return False  # a redelivered copy finished it meanwhile
        # The run's row is locked before looking for batches still pending, so that of two last batches
        # finishing at once, the second looks after the first committed and finishes the run (without the
        # lock each would see the other pending and the run would never finish).
        RescoreRun.objects.select_for_update().filter(pk=batch.run_id).first()
        if not RescoreBatch.objects.filter(run_id=batch.run_id, done_at__isnull=True).exists():
            RescoreRun.objects.filter(pk=batch.run_id, finished_at__isnull=True).update(finished_at=now)
    return True


def rescore_progress() -> dict | None:
    """The latest run: batches done of total, for the progress bar."""
    run = RescoreRun.objects.first()
    if run is None:
        return None
    done = run.batches.filter(done_at__isnull=False).count()
    return {"run": run, "done": done, "total": run.total_batches, "finished": run.finished_at is not None}


# --- Edits to the scoring model (the scoring page) ----------------------------------------------------------
# Each saves what the page's form validated and changes the model's version in one transaction; the rescore it
# starts is queued after commit.


def scoring_thresholds_save(*, config: ScoringConfig, by) -> RescoreRun:
    """Save the MQL thresholds set on `config` (the form's unsaved instance) and rescore everyone."""
    with transaction.atomic():
        config.save()
        return scoring_changed(by=by, reason=gettext("thresholds changed"))


def scoring_rule_save(*, rule: ScoringRule, by) -> ScoringRule:
    """Save a new or edited rule (the form's unsaved instance) and rescore everyone."""
    with transaction.atomic():
        rule.save()
        scoring_changed(by=by, reason=gettext("rule “%(name)s” saved") % {"name": rule.name})
    return rule


def scoring_group_save(*, group: ScoringGroup, by) -> ScoringGroup:
    """Save a group's name and cap (the form's unsaved instance) and rescore everyone."""
    with transaction.atomic():
        group.save()
        scoring_changed(by=by, reason=gettext("group “%(name)s” changed") % {"name": group.name})
    return group


def scoring_changed(*, by, reason: str) -> RescoreRun:
    """Rules or thresholds changed: move the model's version and rescore everyone in the background. The one
    caller is the saves above (and data fixes in the shell)."""
    config = ScoringConfig.get()
    ScoringConfig.objects.filter(pk=config.pk).update(
        version=config.version + 1, updated_by=by, updated_at=timezone.now()
    )
    return rescore_start(reason=reason)
