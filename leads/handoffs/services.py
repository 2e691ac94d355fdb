"""The MQL → SQL handoff: assignment (territory, round-robin, capacity, absences), SLA clock, reminders,
escalation and re-assignment, first touch, accept (→ SQL and a deal) and reject (→ the reason goes back to
marketing)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.choices import LifecycleStage
from leads.handoffs import messages
from leads.handoffs.sla import add_business_hours
from leads.lifecycle import lead_lifecycle_change
from leads.models import AssignmentLog, Handoff, Lead, TerritoryRule
from salesmarketing import events, hooks
from salesmarketing.events import event_emit
from salesmarketing.models import Team, User
from salesmarketing.services import notification_send

logger = logging.getLogger(__name__)

OPEN = Handoff.OPEN_STATES
RECYCLE_REASONS = {Handoff.RejectReason.TOO_EARLY, Handoff.RejectReason.NO_BUDGET, Handoff.RejectReason.OTHER}
DEFAULT_REMINDER_MINUTES = 60  # a handoff without a team: Team.sla_reminder_minutes' default
# A breached handoff nobody else could take is offered again after this.
REASSIGN_RETRY = dt.timedelta(hours=1)
# The most handoffs one SLA run acts on per step (remind, escalate, re-assign), the most overdue first: beat's run
# holds a realtime worker, so a mass breach (a team away for a day, an import of old handoffs) is worked off over
# the next minutes' runs instead of holding it for the whole lot.
SLA_RUN_MAX = 100


class HandoffConflict(Exception):
    """The handoff was already decided differently (e.g. accepting a rejected handoff)."""


def _emit(kind: str, handoff: Handoff, **extra: Any) -> None:
    """A handoff event (salesmarketing.events), in the caller's transaction: ids and codes only."""
    payload = {
        "handoff_id": handoff.pk,
        "lead_id": handoff.lead_id,
        "owner_id": handoff.owner_id,
        "team_id": handoff.team_id,
        **extra,
    }
    event_emit(kind=kind, subject=("handoff", handoff.pk), payload=payload)


def _emit_assigned(handoff: Handoff) -> None:
    due = handoff.sla_due_at.isoformat() if handoff.sla_due_at else None
    _emit(events.HANDOFF_ASSIGNED, handoff, sla_due_at=due)


UNDO_SECONDS = 10  # how long the person who accepted or rejected a handoff may take it back


def handoff_can_undo(handoff: Handoff, *, by: User, now=None) -> bool:
    """Whether `by` may still take back their decision on the handoff."""
    now = now or timezone.now()
    return (
        handoff.state in (Handoff.State.ACCEPTED, Handoff.State.REJECTED)
        and handoff.decided_by_id == by.pk
        and handoff.decided_at is not None
        and now - handoff.decided_at <= dt.timedelta(seconds=UNDO_SECONDS)
    )


def handoff_decision_undo(*, handoff: Handoff, by: User, now=None) -> Handoff:
    """Take back an accept or a reject within UNDO_SECONDS, by the person who made it: the handoff is open again
    as it was (rep, first touch, SLA), the lead an MQL of that rep, an accepted handoff's new deal is removed,
    and the assignment log records the undo. Raises HandoffConflict when it is too late or not theirs."""
    now = now or timezone.now()
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update(of=("self",)).select_related("lead").get(pk=handoff.pk)
        if not handoff_can_undo(handoff, by=by, now=now):
            raise HandoffConflict(_("This decision can no longer be undone."))
        decided_at, was = handoff.decided_at, handoff.get_state_display()
        if handoff.state == Handoff.State.ACCEPTED:
            try:
                hooks.call(hooks.HANDOFF_ACCEPT_UNDONE, handoff=handoff)
            except ValidationError as exc:
                raise HandoffConflict(" ".join(exc.messages)) from exc
        # What the decision itself filled in is put back; what the rep had done before it stays.
        if handoff.first_touch_at == decided_at:
            handoff.first_touch_at = None
        if handoff.assigned_at == decided_at:  # an unassigned handoff accepted by a manager took them as rep
            handoff.owner, handoff.assigned_at = None, None
        if handoff.owner_id is None:
            handoff.state = Handoff.State.UNASSIGNED
        else:
            handoff.state = Handoff.State.WORKING if handoff.first_touch_at else Handoff.State.ASSIGNED
        handoff.decided_at = handoff.decided_by = None
        handoff.reject_reason, handoff.reject_note = "", ""
        handoff.save()
        lead_update: dict = {"owner": handoff.owner}
        if handoff.lead.recycled_at == decided_at:
            lead_update["recycled_at"] = None
        lead_lifecycle_change(
            lead=handoff.lead_id,
            to=LifecycleStage.MQL,
            by=by,
            at=now,
            reason=gettext_lazy("Handoff decision undone"),
            also=lead_update,
        )
        AssignmentLog.objects.create(
            handoff=handoff,
            user=handoff.owner,
            team=handoff.team,
            reason=(_("%(by)s undid “%(decision)s”") % {"by": by, "decision": was})[:300],
        )
    return handoff


def _team_for(lead: Lead) -> tuple[Team | None, str]:
    company = lead.company
    region = company.region if company else ""
    industry = company.industry if company else ""
    for rule in TerritoryRule.objects.filter(is_active=True).select_related("team"):
        if (not rule.region or rule.region == region) and (not rule.industry or rule.industry == industry):
            return rule.team, _("territory %(rule)s") % {"rule": rule}
    team = Team.objects.filter(kind=Team.Kind.SALES).order_by("id").first()
    return team, _("no territory matched; default sales team")


def handoff_assign(
    *, handoff_id: int, exclude_user_id: int | None = None, note: str = "", now=None
) -> Handoff:
    """Give the handoff to the next available rep of the responsible team and start its SLA clock.

    Round-robin: the rep assigned longest ago goes first; reps who are away or at capacity are skipped. The
    chosen rep's row is locked, not the team's (`_next_rep`): concurrent assignments of one team each take a rep
    of their own, and none waits for another's commit while a rep has room. The lead is locked with the handoff,
    before the rep: an assignment that waits for a lead which other work holds (a rescore batch, a bulk ingest)
    holds no rep meanwhile. Idempotent for an already assigned handoff unless `exclude_user_id` asks for a
    re-assignment.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self", "lead"), no_key=True)
            .select_related("lead__company")
            .get(pk=handoff_id)
        )
        if not _wants_a_rep(handoff, exclude_user_id):
            return handoff
        team, territory = _team_for(handoff.lead)
        if team is None:
            AssignmentLog.objects.create(handoff=handoff, reason=_("No sales team exists."))
            return handoff
        chosen, skipped = _next_rep(team, exclude_user_id=exclude_user_id, today=timezone.localdate(now))
        previous_owner_id = handoff.owner_id
        if chosen is None and exclude_user_id is not None:
            _keep_current_rep(handoff, team, now)
            return handoff
        reason = [note] if note else []
        reason.append(territory)
        reason.extend(_give_to(handoff, team, chosen, now))
        if skipped:
            reason.append(_("skipped: %(names)s") % {"names": ", ".join(skipped)})
        handoff.save()
        AssignmentLog.objects.create(handoff=handoff, user=chosen, team=team, reason="; ".join(reason)[:300])
        if chosen is not None:
            _emit_assigned(handoff)
        _tell_assigned(handoff, team, chosen, now=now, previous_owner_id=previous_owner_id)
    return handoff


def handoffs_assign_waiting(*, lead_ids: list[int]) -> int:
    """Assign these leads' handoffs still waiting for a rep: a single capture's, in the task that scored its
    lead (no second trip through the queue), and found again if that task runs once more after a crash or a
    retry. Returns how many were waiting."""
    waiting = list(
        Handoff.objects.filter(lead_id__in=lead_ids, state=Handoff.State.UNASSIGNED).values_list(
            "id", flat=True
        )
    )
    for handoff_id in waiting:
        handoff_assign(handoff_id=handoff_id)
    return len(waiting)


def _wants_a_rep(handoff: Handoff, exclude_user_id: int | None) -> bool:
    """An unassigned handoff does; an assigned one only when a re-assignment asks; a decided one never."""
    if handoff.state == Handoff.State.UNASSIGNED:
        return True
    return handoff.state == Handoff.State.ASSIGNED and exclude_user_id is not None


def _reps(team: Team):
    """The team's active reps with their open handoffs and latest assignment, the one assigned longest ago first."""
    # Per rep, from the handoffs' (owner, …) indexes: their open ones, and their latest assignment (a join and
    # grouping would read every handoff each rep ever had).
    theirs = Handoff.objects.filter(owner=OuterRef("pk")).order_by()
    return (
        User.objects.filter(team=team, role=User.Role.SALES, is_active=True)
        .annotate(
            open_count=Coalesce(
                Subquery(theirs.filter(state__in=OPEN).values("owner").annotate(n=Count("*")).values("n")), 0
            ),
            last_assigned=Subquery(
                theirs.filter(assigned_at__isnull=False).order_by("-assigned_at").values("assigned_at")[:1]
            ),
        )
        .order_by(F("last_assigned").asc(nulls_first=True), "id")
    )


def _claim_rep(team: Team, *, exclude_user_id: int | None, today: dt.date, skip_locked: bool) -> int | None:
    """Lock the row of the team's next rep with room (not excluded or away) for this assignment: its id, or None.
    `skip_locked`: pass over a rep whom a concurrent assignment holds, rather than wait for its commit."""
    reps = _reps(team).filter(open_count__lt=F("handoff_capacity")).exclude(away_until__gte=today)
    if exclude_user_id is not None:
        reps = reps.exclude(pk=exclude_user_id)
    locked = reps.select_for_update(skip_locked=skip_locked, no_key=True, of=("self",))
    return locked.values_list("pk", flat=True).first()


def _next_rep(team: Team, *, exclude_user_id: int | None, today: dt.date) -> tuple[Any | None, list[str]]:
    """The team's rep assigned longest ago who is not excluded, away or at capacity, and whom no other assignment
    is giving a handoff right now; and the reps skipped, why.

    No team-wide lock: the chosen rep's row is locked for this assignment, passing over a rep whom a concurrent
    one holds (SKIP LOCKED). So a team's assignments run side by side, each with a rep of its own, and a hot lead's
    never waits for a batch's commit while another rep has room; only when every rep with room is held does it
    wait, for the first. The reps are read again once the lock is held, so a rep's open count is exact: should
    the claimed rep have reached capacity meanwhile, the next one is claimed. Two assignments racing for the
    same turn may give it in either order."""
    chosen: User | None = None
    skipped: list[str] = []
    for _attempt in range(3):
        claimed = _claim_rep(team, exclude_user_id=exclude_user_id, today=today, skip_locked=True)
        if claimed is None:
            claimed = _claim_rep(team, exclude_user_id=exclude_user_id, today=today, skip_locked=False)
        chosen, skipped = None, []
        for rep in _reps(team):
            if rep.pk == exclude_user_id:
                skipped.append(_("%(rep)s (current owner)") % {"rep": rep})
            elif rep.away_until and rep.away_until >= today:
                skipped.append(_("%(rep)s (away until %(day)s)") % {"rep": rep, "day": rep.away_until})
            elif rep.open_count >= rep.handoff_capacity:
                skipped.append(_("%(rep)s (at capacity %(n)s)") % {"rep": rep, "n": rep.handoff_capacity})
            elif rep.pk == claimed:
                chosen = rep
        if chosen is not None or claimed is None:
            break
    return chosen, skipped


def _keep_current_rep(handoff: Handoff, team: Team, now: dt.datetime) -> None:
    """Re-assignment found nobody else: the current rep keeps it (logged at most once an hour)."""
    if not handoff.assignments.filter(created_at__gte=now - REASSIGN_RETRY).exists():
        AssignmentLog.objects.create(
            handoff=handoff,
            user=handoff.owner,
            team=team,
            reason=_("re-assignment: no other rep available"),
        )


def _give_to(handoff: Handoff, team: Team, chosen: Any | None, now: dt.datetime) -> list[str]:
    """Set the handoff's team and rep (and start its SLA clock), or leave it waiting; the reason's words."""
    handoff.team = team
    if chosen is None:
        handoff.state = Handoff.State.UNASSIGNED
        handoff.owner = None
        return [_("no rep available")]
    handoff.state = Handoff.State.ASSIGNED
    handoff.owner = chosen
    handoff.assigned_at = now
    handoff.sla_due_at = add_business_hours(
        now,
        team.sla_first_touch_hours,
        day_start=team.business_day_start,
        day_end=team.business_day_end,
    )
    handoff.reminded_at = handoff.escalated_at = None
    return [_("round-robin: %(rep)s had %(n)s open") % {"rep": chosen, "n": chosen.open_count}]


def _tell_assigned(
    handoff: Handoff, team: Team, chosen: User | None, *, now: dt.datetime, previous_owner_id: int | None
) -> None:
    """The new rep owns the lead and hears of it; a handoff newly left waiting tells the team's manager."""
    if chosen is not None:
        Lead.objects.filter(pk=handoff.lead_id).update(owner=chosen, updated_at=now)
        _notify_rep(handoff, chosen)
    elif team.manager_id and previous_owner_id is None and team.manager is not None:
        notification_send(
            recipient=team.manager,
            message=messages.NO_REP,
            params={"lead": str(handoff.lead), "lead_id": handoff.lead_id},
            url=reverse("leads:handoffs"),
        )


def _notify_rep(handoff: Handoff, rep: User) -> None:
    notification_send(
        recipient=rep,
        message=messages.NEW_LEAD,
        params=messages.NEW_LEAD.params(
            lead=str(handoff.lead), lead_id=handoff.lead_id, why=handoff.reason, due=handoff.sla_due_at
        ),
        url=reverse("leads:handoffs"),
        email=True,
    )


def handoff_assign_to(*, handoff: Handoff, rep: User, by: User, now=None) -> Handoff:
    """A manager gives a waiting (or assigned, not yet touched) handoff to a rep of their choice: the SLA clock
    starts again for that rep, the assignment log says who chose whom, and the rep is notified.

    Raises HandoffConflict when the handoff is no longer open for assignment (decided, or already worked).
    """
    now = now or timezone.now()
    team = rep.team if rep.team_id is not None else None
    if rep.role != User.Role.SALES or not rep.is_active or team is None:
        raise ValueError(f"user {rep.pk} is not an active sales rep in a team")
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",)).select_related("lead__company").get(pk=handoff.pk)
        )
        if handoff.state not in (Handoff.State.UNASSIGNED, Handoff.State.ASSIGNED):
            raise HandoffConflict(_("This handoff is no longer waiting for a rep."))
        if handoff.owner_id == rep.pk:
            return handoff
        previous = handoff.owner
        handoff.owner, handoff.team, handoff.state = rep, team, Handoff.State.ASSIGNED
        handoff.assigned_at = now
        handoff.sla_due_at = add_business_hours(
            now, team.sla_first_touch_hours, day_start=team.business_day_start, day_end=team.business_day_end
        )
        handoff.reminded_at = handoff.escalated_at = None
        handoff.save()
        reason = (
            _("re-assigned by %(by)s (was %(previous)s)") % {"by": by, "previous": previous}
            if previous is not None
            else _("assigned by %(by)s") % {"by": by}
        )
        AssignmentLog.objects.create(handoff=handoff, user=rep, team=team, reason=reason[:300])
        _emit_assigned(handoff)
        Lead.objects.filter(pk=handoff.lead_id).update(owner=rep, updated_at=now)
        _notify_rep(handoff, rep)
    return handoff


def handoff_for_booked_meeting(*, lead_id: int, rep: User, now=None) -> Handoff | None:
    """A lead nobody owns booked a meeting with `rep` on their public booking page (pipeline.booking): a hand
    raised, so the lead becomes an MQL and its handoff goes to that rep straight away, with the SLA clock of the
    rep's team (the default team hours without one), the assignment log, the event and the rep's notification
    as for any assignment. A handoff already waiting for a rep is given to them. Nothing when someone owns the
    lead by now, or when it is past the handoff (an SQL, an opportunity, a customer). Returns the handoff."""
    now = now or timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        if lead.owner_id is not None:
            return None
        handoff = Handoff.objects.select_for_update().filter(lead=lead, state__in=OPEN).first()
        if handoff is None:
            if lead.lifecycle_stage not in HAND_RAISE_STAGES:
                return None
            _booked_lead_to_mql(lead, now)
            handoff = Handoff.objects.create(
                lead=lead,
                mql_at=now,
                score_at_handoff=lead.total_score,
                fit_at_handoff=lead.fit_score,
                campaign_id=lead.first_touch_campaign_id,
                reason=_site_language(BOOKED_REASON),
            )
        elif handoff.state != Handoff.State.UNASSIGNED:
            return handoff
        team = rep.team if rep.team_id is not None else None
        handoff.owner, handoff.team, handoff.state = rep, team, Handoff.State.ASSIGNED
        handoff.assigned_at = now
        handoff.sla_due_at = add_business_hours(
            now,
            team.sla_first_touch_hours if team is not None else DEFAULT_SLA_HOURS,
            day_start=team.business_day_start if team is not None else 9,
            day_end=team.business_day_end if team is not None else 18,
        )
        handoff.reminded_at = handoff.escalated_at = None
        handoff.save()
        AssignmentLog.objects.create(
            handoff=handoff,
            user=rep,
            team=team,
            reason=(_("booked a meeting with %(rep)s") % {"rep": rep})[:300],
        )
        _emit_assigned(handoff)
        Lead.objects.filter(pk=lead.pk).update(owner=rep, updated_at=now)
        _notify_rep(handoff, rep)
    return handoff


# A booked meeting makes these leads an MQL (and hands them over); later stages are sales' already.
HAND_RAISE_STAGES = (
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.RECYCLED,
    LifecycleStage.DISQUALIFIED,
)
BOOKED_REASON = gettext_lazy("Booked a meeting on a rep's booking page")
DEFAULT_SLA_HOURS = 4


def _site_language(text: Any) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def _booked_lead_to_mql(lead: Lead, now: dt.datetime) -> None:
    if lead_lifecycle_change(
        lead=lead, to=LifecycleStage.MQL, at=now, reason=BOOKED_REASON, also={"mql_at": now}
    ):
        event_emit(
            kind=events.LEAD_MQL,
            subject=("lead", lead.pk),
            payload={"lead_id": lead.pk, "fit_score": lead.fit_score, "total_score": lead.total_score},
            at=now,
        )


def handoff_first_touch(*, handoff: Handoff, by: User, now=None) -> Handoff:
    """The rep reached out: stops the SLA clock (speed to lead = first_touch_at − assigned_at)."""
    now = now or timezone.now()
    updated = Handoff.objects.filter(pk=handoff.pk, first_touch_at__isnull=True, state__in=OPEN).update(
        first_touch_at=now, state=Handoff.State.WORKING, updated_at=now
    )
    handoff.refresh_from_db()
    if updated:
        logger.info("handoff %s first touch by %s", handoff.pk, by.pk)
    return handoff


def lead_first_touched(*, lead_id: int, at: dt.datetime) -> int:
    """A sales activity on the lead counts as the first touch of its open handoff; one dated before the handoff
    was assigned (an imported call log, say) answers no handoff, so speed to lead is never negative."""
    return (
        Handoff.objects.filter(lead_id=lead_id, state__in=OPEN, first_touch_at__isnull=True)
        .filter(Q(assigned_at__lte=at) | Q(assigned_at__isnull=True, mql_at__lte=at))
        .update(first_touch_at=at, state=Handoff.State.WORKING)
    )


def handoff_accept(*, handoff: Handoff, by: User, now=None) -> Handoff:
    """Sales accepts: the lead becomes an SQL and a deal is created (once). Accepting twice changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
        if handoff.state == Handoff.State.ACCEPTED:
            return handoff
        if handoff.state == Handoff.State.REJECTED:
            raise HandoffConflict(_("This handoff was already rejected."))
        handoff.state = Handoff.State.ACCEPTED
        handoff.decided_at = now
        handoff.decided_by = by
        handoff.first_touch_at = handoff.first_touch_at or now
        if handoff.owner_id is None:
            handoff.owner = by
            handoff.assigned_at = handoff.assigned_at or now
        handoff.save()
        lead_lifecycle_change(
            lead=handoff.lead_id,
            to=LifecycleStage.SQL,
            by=by,
            at=now,
            reason=gettext_lazy("Handoff accepted"),
            also={"owner": handoff.owner},
        )
        # The pipeline app (above leads) registers the deal's creation: the seam into it (salesmarketing.hooks).
        deals = [
            deal for deal in hooks.call(hooks.HANDOFF_ACCEPTED, handoff=handoff, by=by) if deal is not None
        ]
        if deals:
            lead_lifecycle_change(
                lead=handoff.lead_id,
                to=LifecycleStage.OPPORTUNITY,
                by=by,
                at=now,
                reason=gettext_lazy("A deal was created"),
            )
        _emit(events.HANDOFF_ACCEPTED, handoff, deal_id=deals[0].pk if deals else None)
    return handoff


def handoff_reject(*, handoff: Handoff, by: User, reason: str, note: str = "", now=None) -> Handoff:
    """Sales rejects with a structured reason; the lead is recycled to nurture or disqualified, and marketing
    (the campaign's owner) hears why."""
    now = now or timezone.now()
    if reason not in Handoff.RejectReason.values:
        raise ValueError(f"unknown rejection reason {reason!r}")
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("campaign__owner", "lead")
            .get(pk=handoff.pk)
        )
        if handoff.state == Handoff.State.REJECTED:
            return handoff
        if handoff.state == Handoff.State.ACCEPTED:
            raise HandoffConflict(_("This handoff was already accepted."))
        handoff.state = Handoff.State.REJECTED
        handoff.reject_reason = reason
        handoff.reject_note = note
        handoff.decided_at = now
        handoff.decided_by = by
        handoff.first_touch_at = handoff.first_touch_at or now
        handoff.save()
        also: dict[str, Any] = {}
        if reason == Handoff.RejectReason.ALREADY_CUSTOMER:
            to = LifecycleStage.CUSTOMER
        elif reason in RECYCLE_REASONS:
            to, also = LifecycleStage.RECYCLED, {"recycled_at": now, "owner": None}
        else:
            to, also = LifecycleStage.DISQUALIFIED, {"owner": None}
        lead_lifecycle_change(
            lead=handoff.lead_id,
            to=to,
            by=by,
            at=now,
            reason=format_lazy(gettext_lazy("Handoff rejected: {}"), Handoff.RejectReason(reason).label),
            also=also,
        )
        # nurture (above leads) enrols a lead rejected as too early / no budget in its sequences (salesmarketing.hooks).
        hooks.call(hooks.HANDOFF_REJECTED, handoff=handoff, by=by)
        _emit(events.HANDOFF_REJECTED, handoff, reason=reason)
        campaign = handoff.campaign
        marketer = campaign.owner if campaign is not None and campaign.owner_id else None
        if marketer is not None:
            notification_send(
                recipient=marketer,
                message=messages.REJECTED,
                params={
                    "campaign": str(campaign),
                    "reason": reason,
                    "lead": str(handoff.lead),
                    "lead_id": handoff.lead_id,
                    "note": note,
                },
                url=reverse("leads:detail", args=[handoff.lead_id]),
            )
    return handoff


@dataclass
class SlaResult:
    reminded: int = 0
    escalated: int = 0
    reassigned: int = 0


def sla_check(*, now=None) -> SlaResult:
    """Run by beat every minute: remind before due, escalate at breach, re-assign after the second window.

    Each step claims its handoff with a conditional UPDATE, so overlapping runs act once, and acts on at most
    SLA_RUN_MAX handoffs, the most overdue first: the rest are the next run's.
    """
    now = now or timezone.now()
    result = SlaResult()
    waiting = Handoff.objects.filter(
        state=Handoff.State.ASSIGNED, first_touch_at__isnull=True, sla_due_at__isnull=False
    )
    # Each step reads only the handoffs it may act on, whatever the number waiting: the database compares each
    # one's due time with its team's windows (a few teams, so a few terms).
    teams = list(Team.objects.values_list("pk", "sla_reminder_minutes", "sla_reassign_after_hours"))
    remind_soon = Q(team__isnull=True, sla_due_at__lte=now + dt.timedelta(minutes=DEFAULT_REMINDER_MINUTES))
    breached_long_ago = Q(pk__in=[])
    for team_id, remind_minutes, reassign_hours in teams:
        remind_soon |= Q(team_id=team_id, sla_due_at__lte=now + dt.timedelta(minutes=remind_minutes))
        if reassign_hours:
            # Business hours are a part of all hours, so the deadline below is at least this long after due.
            breached_long_ago |= Q(team_id=team_id, sla_due_at__lte=now - dt.timedelta(hours=reassign_hours))
    for handoff in (
        waiting.filter(remind_soon, reminded_at__isnull=True, sla_due_at__gt=now)
        .select_related("owner", "lead")
        .order_by("sla_due_at")[:SLA_RUN_MAX]
    ):
        due, rep = handoff.sla_due_at, handoff.owner  # both set while assigned (the filter above)
        if due is None or rep is None:
            continue
        if Handoff.objects.filter(pk=handoff.pk, reminded_at__isnull=True).update(
            reminded_at=now, updated_at=now
        ):
            result.reminded += 1
            notification_send(
                recipient=rep,
                message=messages.SLA_REMINDER,
                params=messages.SLA_REMINDER.params(lead=str(handoff.lead), lead_id=handoff.lead_id, due=due),
                url=reverse("leads:handoffs"),
                email=True,
            )
    for handoff in (
        waiting.filter(escalated_at__isnull=True, sla_due_at__lte=now)
        .select_related("team__manager", "owner", "lead")
        .order_by("sla_due_at")[:SLA_RUN_MAX]
    ):
        if _escalate(handoff, now=now):
            result.escalated += 1
    # A handoff whose re-assignment found nobody else stays with its rep (logged) and is tried again an hour later,
    # not every minute.
    tried_lately = AssignmentLog.objects.filter(handoff=OuterRef("pk"), created_at__gt=now - REASSIGN_RETRY)
    for handoff in (
        waiting.filter(breached_long_ago, ~Exists(tried_lately), escalated_at__isnull=False)
        .select_related("team")
        .order_by("sla_due_at")[:SLA_RUN_MAX]
    ):
        team, due = handoff.team, handoff.sla_due_at
        if team is None or due is None or not team.sla_reassign_after_hours:
            continue
        deadline = add_business_hours(
            due,
            team.sla_reassign_after_hours,
            day_start=team.business_day_start,
            day_end=team.business_day_end,
        )
        if deadline <= now:
            previous = handoff.owner_id
            handoff = handoff_assign(
                handoff_id=handoff.pk,
                exclude_user_id=previous,
                note=_("re-assigned after SLA breach"),
                now=now,
            )
            if handoff.owner_id != previous:
                result.reassigned += 1
    return result


def _escalate(handoff: Handoff, *, now: dt.datetime) -> bool:
    """Claim the breach (a conditional UPDATE: overlapping runs act once), record its event and tell the manager
    and the rep, all in one transaction. False when another run claimed it first."""
    with transaction.atomic():
        if not Handoff.objects.filter(pk=handoff.pk, escalated_at__isnull=True).update(
            escalated_at=now, updated_at=now
        ):
            return False
        _emit(
            events.HANDOFF_SLA_BREACHED,
            handoff,
            sla_due_at=handoff.sla_due_at.isoformat() if handoff.sla_due_at else None,
        )
        params = {"lead": str(handoff.lead), "lead_id": handoff.lead_id, "rep": str(handoff.owner)}
        # The manager by e-mail too; the rep, set while assigned (the filter above), in the app.
        for recipient, email in (
            (handoff.team.manager if handoff.team else None, True),
            (handoff.owner, False),
        ):
            if recipient is not None:
                notification_send(
                    recipient=recipient,
                    message=messages.SLA_BREACHED,
                    params=params,
                    url=reverse("leads:handoffs"),
                    email=email,
                )
    return True


MAX_HANDOFF_CAPACITY = 200


def rep_availability_set(
    *, rep: User, by: User, away_until: dt.date | None, handoff_capacity: int, today: dt.date | None = None
) -> User:
    """A manager sets a rep's away period (no new handoffs up to and including `away_until`; None: present) and
    how many open handoffs they take at most. Only for a rep of a team `by` manages (their own team included,
    as User.oversees()); an admin for any rep. Assignment reads both the next time it runs (handoff_assign)."""
    if not _manages_rep(by, rep):
        raise PermissionDenied
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    if away_until is not None and away_until < today:
        errors["away_until"] = _("Choose today or a later day (leave it empty when the rep is in).")
    if handoff_capacity is None or not 0 <= handoff_capacity <= MAX_HANDOFF_CAPACITY:
        errors["handoff_capacity"] = _("Between 0 and %(max)s open handoffs.") % {"max": MAX_HANDOFF_CAPACITY}
    if errors:
        raise ValidationError(errors)
    User.objects.filter(pk=rep.pk).update(away_until=away_until, handoff_capacity=handoff_capacity)
    rep.away_until, rep.handoff_capacity = away_until, handoff_capacity
    return rep


def _manages_rep(by: User, rep: User) -> bool:
    if rep.role != User.Role.SALES or rep.team_id is None:
        return False
    if by.is_superuser or by.role == User.Role.ADMIN:
        return True
    if by.role != User.Role.MANAGER:
        return False
    return rep.team_id == by.team_id or Team.objects.filter(pk=rep.team_id, manager=by).exists()
