"""Writes for saved views and bulk jobs: a view saved, renamed, deleted; a job queued, started and run in batches.

A batch (`bulk_job_run_batch`) is one transaction: lock the job row, take the next ids after its cursor from the
job's leads (`selectors.job_leads`: the filter re-run with the author's visibility), apply the action to them in a
fixed number of set-based statements, and move the cursor and the counters. A batch that fails rolls back whole,
so its retry starts where the last committed batch stopped; two deliveries of the task queue on the job's row lock
and the second finds the cursor already moved. Erase takes one lead per batch: each erasure (leads.privacy's, in
every app) commits on its own with the cursor, so a crash loses no erased lead and a re-run starts after them.

Each batch moves the job's heartbeat (`progressed_at`). A job whose worker died (SIGKILL) or whose message the
broker lost stays queued or running with an old heartbeat: beat's sweeper (leads.tasks.sweep) queues it again
(`bulk_jobs_resume_stalled`) and it goes on from its cursor. A bulk assign tells the new owner once, when the job
finishes (in the finishing batch's transaction, so a redelivered or resumed job never tells twice).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.bulk import AnyOf
from leads.bulk_actions import selectors
from leads.bulk_actions.messages import BULK_ASSIGNED
from leads.choices import ConsentMethod, LifecycleStage
from leads.lifecycle import REASON_MAX, leads_lifecycle_recorded
from leads.models import BulkAction, BulkJob, ErasureRecord, Lead, OwnerChange, SavedView
from leads.privacy.services import can_manage_personal_data, lead_erase
from salesmarketing.celery import queue_task
from salesmarketing.models import User
from salesmarketing.services import notification_send

TASK = "leads.bulk_actions.tasks.bulk_job_run"

BATCH_SIZE = 1000  # leads per batch: one transaction, a fixed number of statements
ERASE_BATCH_SIZE = 1  # an erasure scrubs every app's free text (leads.privacy): one lead per transaction
TIME_BUDGET_SECONDS = (
    60.0  # a task runs batches this long, then queues the rest, so other bulk work gets a turn
)
RESUME_LIMIT = 100  # stalled jobs queued again per sweep
MAX_PICKED = 1000  # rows picked on the page (a page holds 50); beyond that, "all matching" carries the filter


# --- Saved views -----------------------------------------------------------------------------------------------


def _view_clean(*, owner: User, name: str, sharing: str) -> tuple[str, Any]:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Enter a name.")})
    if sharing not in SavedView.Sharing.values:
        raise ValidationError({"sharing": _("Choose who sees the view.")})
    if sharing == SavedView.Sharing.TEAM and owner.team_id is None:
        raise ValidationError({"sharing": _("You are in no team to share it with.")})
    return name[:100], owner.team_id if sharing == SavedView.Sharing.TEAM else None


def saved_view_create(*, owner: User, name: str, query: str, sharing: str = "private") -> SavedView:
    """Save the list's filter under a name (unique among the owner's views)."""
    name, team_id = _view_clean(owner=owner, name=name, sharing=sharing)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                owner=owner, name=name, query=query[:2000], sharing=sharing, team_id=team_id
            )
    except IntegrityError:
        raise ValidationError({"name": _("You already have a view with this name.")}) from None


def saved_view_update(*, view: SavedView, name: str, sharing: str) -> SavedView:
    """Rename a view or change whom it is shared with (its owner only: the caller's check)."""
    name, team_id = _view_clean(owner=view.owner, name=name, sharing=sharing)
    view.name, view.sharing, view.team_id = name, sharing, team_id
    try:
        with transaction.atomic():
            view.save(update_fields=["name", "sharing", "team", "updated_at"])
    except IntegrityError:
        raise ValidationError({"name": _("You already have a view with this name.")}) from None
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()


# --- Queuing a job ---------------------------------------------------------------------------------------------


def _params_clean(*, by: User, action: str, params: dict[str, Any]) -> dict[str, Any]:  # noqa: C901, PLR0912
    """The action's parameters, checked against what `by` may do; ValidationError by field otherwise."""
    reason = str(params.get("reason") or "").strip()[:REASON_MAX]
    if action == BulkAction.ASSIGN:
        choices = selectors.assignable_owners(viewer=by)
        if choices is None:
            raise ValidationError(_("You may not change owners."))
        owner = str(params.get("owner") or "")  # "" (or None): nobody
        if owner and (not owner.isdigit() or int(owner) not in {u.pk for u in choices}):
            raise ValidationError({"owner": _("Choose someone you may hand leads to.")})
        if not reason:
            raise ValidationError({"reason": _("Say why the owner changes.")})
        return {"owner": int(owner) if owner else None, "reason": reason}
    if action == BulkAction.LIFECYCLE:
        if params.get("stage") not in LifecycleStage.values:
            raise ValidationError({"stage": _("Choose a lifecycle stage.")})
        if not reason:
            raise ValidationError({"reason": _("Say why the stage changes.")})
        return {"stage": params["stage"], "reason": reason}
    if action == BulkAction.CONSENT:
        grant = bool(params.get("grant"))
        method, wording = params.get("method") or "", str(params.get("wording") or "").strip()
        if grant and method not in ConsentMethod.values:
            raise ValidationError({"method": _("Say how the consent was obtained.")})
        if grant and method != ConsentMethod.BUSINESS_CARD and not wording:
            raise ValidationError({"wording": _("Keep the wording the person agreed to.")})
        if not grant and not reason:
            raise ValidationError({"reason": _("Say why consent is withdrawn.")})
        return {"grant": grant, "method": method if grant else "", "wording": wording, "reason": reason}
    if action == BulkAction.ERASE:
        if not can_manage_personal_data(by):
            raise ValidationError(_("Only admins and marketing managers may erase leads."))
        return {"reason": reason}
    extra = selectors.extra_action(user=by, key=action)
    if extra is None:
        raise ValidationError(_("You may not run this action."))
    target = str(params.get("target") or "")
    if not target.isdigit():
        raise ValidationError({"target": _("Choose where the leads go.")})
    try:
        extra.check(target_id=int(target))
    except Exception as error:  # the target is gone, or cannot take leads (a sequence without steps)
        messages = getattr(error, "messages", None) or [_("Choose where the leads go.")]
        raise ValidationError({"target": messages}) from None
    return {"target": int(target)}


def bulk_job_create(
    *,
    by: User,
    action: str,
    params: dict[str, Any],
    all_matching: bool,
    query: str = "",
    lead_ids: list[int] | None = None,
) -> BulkJob:
    """Check the action against `by` and queue it as a job on the bulk queue (after commit). With `all_matching`
    the job keeps the filter (`query`, the list's query string) and the worker re-runs it; otherwise the ids the
    viewer picked (at most MAX_PICKED), which the worker also checks against the viewer."""
    if action not in BulkAction.values:
        raise ValidationError({"action": _("Choose an action.")})
    picked = sorted({int(pk) for pk in lead_ids or []})
    if not all_matching and not picked:
        raise ValidationError(_("Pick some leads, or all that match the filter."))
    if len(picked) > MAX_PICKED:
        raise ValidationError(_("Too many leads picked: use “all matching” instead."))
    clean = _params_clean(by=by, action=action, params=params)
    with transaction.atomic():
        job = BulkJob.objects.create(
            created_by=by,
            action=action,
            params=clean,
            all_matching=all_matching,
            query=query[:2000] if all_matching else "",
            lead_ids=[] if all_matching else picked,
        )
        # a lambda, not functools.partial: Django logs a failed robust hook by its __qualname__
        transaction.on_commit(lambda: queue_task(TASK, job.pk), robust=True)
    return job


# --- Running a job ---------------------------------------------------------------------------------------------


def bulk_job_start(*, job_id: int, now: dt.datetime | None = None) -> bool:
    """Count the job's leads and mark it running; only once (a conditional UPDATE claims it)."""
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    if job.status != BulkJob.Status.QUEUED:
        return False
    total = selectors.job_leads(job=job).count()
    now = now or timezone.now()
    claimed = BulkJob.objects.filter(pk=job_id, status=BulkJob.Status.QUEUED).update(
        status=BulkJob.Status.RUNNING, total=total, started_at=now, progressed_at=now
    )
    return claimed == 1


def batch_size_for(action: str) -> int:
    return ERASE_BATCH_SIZE if action == BulkAction.ERASE else BATCH_SIZE


def bulk_job_run_batch(*, job_id: int, batch_size: int | None = None) -> bool:
    """Run the job's next batch; whether more remain. Idempotent: see the module docstring."""
    now = timezone.now()
    with transaction.atomic():
        job = (
            BulkJob.objects.select_for_update(of=("self",))
            .select_related("created_by", "created_by__team")
            .get(pk=job_id)
        )
        if job.status != BulkJob.Status.RUNNING:
            return False
        size = batch_size or batch_size_for(job.action)
        ids = list(selectors.job_leads(job=job).filter(pk__gt=job.cursor).values_list("pk", flat=True)[:size])
        changed, failed = APPLY[job.action](job=job, ids=ids, now=now) if ids else (0, 0)
        more = len(ids) == size
        update: dict[str, Any] = {
            "cursor": ids[-1] if ids else job.cursor,
            "done": F("done") + len(ids) - failed,
            "changed": F("changed") + changed,
            "failed": F("failed") + failed,
            "progressed_at": now,
        }
        if not more:
            update |= {"status": BulkJob.Status.FINISHED, "finished_at": now}
            if job.action == BulkAction.ASSIGN:
                _new_owner_told(job=job, changed=job.changed + changed)
        BulkJob.objects.filter(pk=job.pk).update(**update)
    return more


def _new_owner_told(*, job: BulkJob, changed: int) -> None:
    """One notification to the new owner for the whole job (not one per lead), unless they ran it themselves."""
    owner_id = job.params.get("owner")
    if not changed or owner_id is None or owner_id == job.created_by_id:
        return
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    if owner is not None:
        notification_send(
            recipient=owner,
            message=BULK_ASSIGNED,
            params={"by": str(job.created_by), "count": changed, "reason": job.params.get("reason", "")},
            url=reverse("leads:list") + "?owner=me",
        )


def bulk_job_run(*, job_id: int, budget_seconds: float | None = None) -> bool:
    """Start the job and run its batches for up to `budget_seconds`; whether it is finished (if not, the caller
    queues the rest). The database's errors go up for the task to retry (the batch rolled back whole); any other
    (a list deleted meanwhile, the task's time limit) marks the job failed with its reason: re-run it as a new job,
    which changes nothing twice."""
    bulk_job_start(job_id=job_id)
    deadline = time.monotonic() + (TIME_BUDGET_SECONDS if budget_seconds is None else budget_seconds)
    try:
        while bulk_job_run_batch(job_id=job_id):
            if time.monotonic() > deadline:
                return False
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:  # recorded on the job, which its author sees
        BulkJob.objects.filter(pk=job_id, status=BulkJob.Status.RUNNING).update(
            status=BulkJob.Status.FAILED,
            error=(" ".join(getattr(error, "messages", [])) or str(error) or type(error).__name__)[:500],
            finished_at=timezone.now(),
        )
    return True


def bulk_jobs_resume_stalled(*, now: dt.datetime | None = None) -> list[int]:
    """Queue again the jobs not over whose heartbeat is older than SWEEP_STALE_SECONDS (their worker died, or the
    broker lost their message) and move their heartbeat, so the next sweep waits for them again; their ids. Each
    goes on from its cursor; meeting a delivery still alive, it changes nothing twice (the module docstring)."""
    now = now or timezone.now()
    stalled = BulkJob.objects.filter(
        status__in=(BulkJob.Status.QUEUED, BulkJob.Status.RUNNING),
        progressed_at__lt=now - dt.timedelta(seconds=settings.SWEEP_STALE_SECONDS),
    )
    ids = list(stalled.order_by("progressed_at", "pk").values_list("pk", flat=True)[:RESUME_LIMIT])
    if ids:
        stalled.filter(pk__in=ids).update(progressed_at=now)
        for pk in ids:
            queue_task(TASK, pk)
    return ids


# --- The actions: each takes one batch of ids (the job's leads, in id order) and returns (changed, failed) ------


def _locked(ids: list[int]):
    """The batch's lead rows, locked in id order (so two writers never deadlock on them)."""
    return Lead.objects.filter(AnyOf(F("pk"), ids)).select_for_update(of=("self",)).order_by("pk")


def _assign(*, job: BulkJob, ids: list[int], now: dt.datetime) -> tuple[int, int]:
    """Owner changes with their log rows (leads.owners' OwnerChange): one SELECT, one UPDATE, one INSERT."""
    owner_id = job.params.get("owner")
    moving = {pk: was for pk, was in _locked(ids).values_list("pk", "owner_id") if was != owner_id}
    if moving:
        Lead.objects.filter(AnyOf(F("pk"), list(moving))).update(owner_id=owner_id, updated_at=now)
        OwnerChange.objects.bulk_create(
            OwnerChange(
                lead_id=pk, from_owner_id=was, to_owner_id=owner_id, by=job.created_by,
                reason=job.params["reason"], at=now,
            )
            for pk, was in moving.items()
        )  # fmt: skip
    return len(moving), 0


def _lifecycle(*, job: BulkJob, ids: list[int], now: dt.datetime) -> tuple[int, int]:
    """The stage, with a LifecycleChange row per lead that moved (leads.lifecycle's set-based record)."""
    to = job.params["stage"]
    moving = {pk: was for pk, was in _locked(ids).values_list("pk", "lifecycle_stage") if was != to}
    if moving:
        Lead.objects.filter(AnyOf(F("pk"), list(moving))).update(lifecycle_stage=to, updated_at=now)
        leads_lifecycle_recorded(
            changes=moving, to=to, at=now, reason=job.params["reason"], by=job.created_by
        )
    return len(moving), 0


def _consent(*, job: BulkJob, ids: list[int], now: dt.datetime) -> tuple[int, int]:
    """Grant (with its proof: how, the wording, now) or withdraw consent to email. A lead who unsubscribed can
    only opt in again themselves: a grant counts them as failed. A lead who already consents keeps the proof of
    their own consent."""
    rows = list(_locked(ids).values_list("pk", "consent_email", "unsubscribed_at"))
    if job.params["grant"]:
        refused = [pk for pk, _consents, unsubscribed in rows if unsubscribed is not None]
        granting = [pk for pk, consents, unsubscribed in rows if not consents and unsubscribed is None]
        if granting:
            Lead.objects.filter(AnyOf(F("pk"), granting)).update(
                consent_email=True,
                consent_method=job.params["method"],
                consent_wording=job.params["wording"],
                consent_at=now,
                updated_at=now,
            )
        return len(granting), len(refused)
    withdrawing = [pk for pk, consents, _unsubscribed in rows if consents]
    if withdrawing:
        Lead.objects.filter(AnyOf(F("pk"), withdrawing)).update(consent_email=False, updated_at=now)
    return len(withdrawing), 0


def _erase(*, job: BulkJob, ids: list[int], now: dt.datetime) -> tuple[int, int]:
    """Each lead through leads.privacy's erasure (its every-app scrub and its ErasureRecord), one per batch
    (ERASE_BATCH_SIZE), so each erasure commits with the cursor on its own. A lead erased meanwhile is gone."""
    erased = 0
    for pk in _locked(ids).values_list("pk", flat=True):
        try:
            lead_erase(lead=Lead(pk=pk), by=job.created_by, via=ErasureRecord.Via.BULK)
        except Lead.DoesNotExist:
            continue
        erased += 1
    return erased, 0


def _extra(*, job: BulkJob, ids: list[int], now: dt.datetime) -> tuple[int, int]:
    extra = selectors.extra_action(user=job.created_by, key=job.action)
    if extra is None:  # the author may no longer run it (their role changed)
        raise ValidationError(_("You may not run this action."))
    return extra.apply(target_id=job.params["target"], lead_ids=ids, by=job.created_by), 0


APPLY: dict[str, Callable[..., tuple[int, int]]] = {
    BulkAction.ASSIGN: _assign,
    BulkAction.LIFECYCLE: _lifecycle,
    BulkAction.CONSENT: _consent,
    BulkAction.ERASE: _erase,
    BulkAction.SEGMENT: _extra,
    BulkAction.SEQUENCE: _extra,
}
