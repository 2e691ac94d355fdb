"""Deals: create (by hand or from an accepted handoff), edit, move between stages, close as won or lost.

`deal_change_stage` is the one write behind the board, the deal page and the API for moves, closes and reopens.
Each of those writes takes the `version` the user saw: a deal changed since then raises DealChangedError (the
caller answers 409 with the deal as it is now). A closed deal goes from won to lost (or back) only through an
open stage: reopening is its own, explicit step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, overload

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.custom_fields.services import custom_apply
from leads.lifecycle import deal_lost_lifecycle, deal_won_lifecycle
from leads.models import Company, CustomObject, Handoff, Lead
from leads.services import company_resolve
from pipeline import messages
from pipeline.models import Deal, Stage, StageChange
from pipeline.selectors.access import companies_visible_to
from pipeline.services.move_statement import move_in_one_statement
from pipeline.services.pipelines import closing_stage, first_open_stage, pipeline_ensure_default
from pipeline.services.positions import column_index, drop_index, slot
from salesmarketing import events, hooks
from salesmarketing.events import event_emit
from salesmarketing.models import Team, User
from salesmarketing.notifications import Message
from salesmarketing.services import notification_send

if TYPE_CHECKING:
    from leads.models import Campaign

DEFAULT_CLOSE_DAYS = 90


class DealChangedError(Exception):
    """The deal was changed by someone else since the editor loaded it (optimistic concurrency).
    `current` is the deal as it is now (its row was locked when compared)."""

    def __init__(self, current: Deal | None = None) -> None:
        super().__init__("The deal changed since this version.")
        self.current = current


def _check_version(locked: Deal, version: int | None) -> None:
    if version is not None and locked.version != version:
        raise DealChangedError(locked)


def check_no_flip(*, status: str, stage: Stage) -> None:
    """A won deal is not closed as lost (nor a lost one as won) without reopening it first, explicitly."""
    if status == Deal.Status.WON and stage.is_lost:
        raise ValidationError(
            {"stage": _("This deal is won. Reopen it (move it to an open stage) before closing it as lost.")}
        )
    if status == Deal.Status.LOST and stage.is_won:
        raise ValidationError(
            {"stage": _("This deal is lost. Reopen it (move it to an open stage) before closing it as won.")}
        )


@overload
def _money(field: str, value: Any, *, required: Literal[True] = True) -> Decimal: ...
@overload
def _money(field: str, value: Any, *, required: bool) -> Decimal | None: ...
def _money(field: str, value: Any, *, required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise ValidationError({field: _("Enter an amount.")})
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("Enter a number.")}) from None
    if not amount.is_finite():
        raise ValidationError({field: _("Enter a number.")})
    if amount < 0:
        raise ValidationError({field: _("The amount cannot be negative.")})
    if amount != amount.quantize(Decimal(1)):
        raise ValidationError({field: _("Enter whole yen.")})
    if amount >= Decimal(10) ** 14:
        raise ValidationError({field: _("The amount is too large.")})
    return amount


def _probability(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"probability": _("Enter a whole number between 0 and 100.")}) from None
    if not 0 <= number <= 100:
        raise ValidationError({"probability": _("Enter a whole number between 0 and 100.")})
    return number


def _checked_values(locked: Deal, values: dict[str, Any]) -> dict[str, Any]:
    """deal_update's values, cleaned and checked against the deal as it is (ValidationError keyed by field)."""
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            raise ValidationError({"name": _("Give the deal a name.")})
    if "amount" in values:
        values["amount"] = _money("amount", values["amount"])
    if "probability" in values:
        values["probability"] = _probability(values["probability"])
    if "expected_close_date" in values and values["expected_close_date"] is None:
        raise ValidationError({"expected_close_date": _("Enter the expected close date.")})
    if "source" in values and values["source"] not in Deal.Source.values:
        raise ValidationError({"source": _("Choose a source.")})
    if "source" in values and locked.handoff_id is not None and values["source"] != locked.source:
        # 商談化数 counts deals made from handoffs; relabelling one would move it between the shared KPI and the
        # self-reported count (the database refuses it too: deal_from_handoff_is_marketing).
        raise ValidationError(
            {"source": _("This deal was created from a marketing handoff: its source cannot be changed.")}
        )
    if "owner" in values and values["owner"] is None:
        raise ValidationError({"owner": _("A deal needs an owner.")})
    if locked.status == Deal.Status.WON and "amount" in values:
        values["won_amount"] = values["amount"]  # a won deal's amount is what was won
    return values


def _lock(deal: Deal) -> Deal:
    """The deal's current row, locked until the transaction ends (PostgreSQL; SQLite serialises writers).

    No join here: when a concurrent move changes stage_id while we wait for the lock, PostgreSQL re-checks a
    joined row against the old stage and would return nothing. The stage is read after the lock instead.
    """
    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    if locked.stage_id == deal.stage_id and Deal.stage.is_cached(deal):
        locked.stage = deal.stage  # still in the stage the caller read with it: no need to read it again
    else:
        locked.stage = Stage.objects.get(pk=locked.stage_id)
    return locked


def _emit(kind: str, deal: Deal, **extra: Any) -> None:
    """A deal event (salesmarketing.events), in the caller's transaction: ids, codes and amounts only."""
    payload = {"deal_id": deal.pk, "owner_id": deal.owner_id, "team_id": deal.team_id, **extra}
    event_emit(kind=kind, subject=("deal", deal.pk), payload=payload)


def _record_change(*, deal: Deal, to_stage: Stage, by: User | None, at: dt.datetime) -> StageChange:
    _emit(events.DEAL_STAGE_CHANGED, deal, from_stage_id=deal.stage_id, to_stage_id=to_stage.pk)
    return StageChange.objects.create(
        deal=deal,
        from_stage_id=deal.stage_id,
        to_stage=to_stage,
        changed_by=by,
        changed_at=at,
        seconds_in_from_stage=max(0, int((at - deal.stage_changed_at).total_seconds())),
    )


def deal_company_resolve(*, name: str, owner: User, viewer: User | None) -> Company | None:
    """The company a new deal names: one of that exact name that `viewer` sees, else a new company of the deal
    owner's. Another team's company of the same name is neither attached (a rep would see it through the deal)
    nor revealed; a manager merges the two if they are one. `viewer` None (an integration's key): any company,
    as `company_resolve` finds it."""
    if viewer is None:
        return company_resolve(name=name, owner=owner)
    name = name.strip()
    if not name:
        return None
    seen = companies_visible_to(viewer).filter(name=name).order_by("pk").first()
    return seen or Company.objects.create(name=name, owner=owner)


@transaction.atomic
def deal_create(
    *,
    name: str,
    owner: User,
    by: User | None,
    company: Company | None = None,
    contact: Lead | None = None,
    stage: Stage | None = None,
    amount: Decimal | int | str = 0,
    probability: int | None = None,
    expected_close_date: dt.date | None = None,
    source: str | None = None,
    team: Team | None = None,
    handoff: Handoff | None = None,
    first_touch_campaign: Campaign | None = None,
    next_step: str = "",
    next_step_date: dt.date | None = None,
    created_at: dt.datetime | None = None,
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
) -> Deal:
    """Create an open deal at the top of its stage's column (the default pipeline's first stage by default).
    The source defaults to "marketing" for a deal made from a handoff (the only source it may have), else "sales".
    `custom`: custom field values by key, checked against the deal's fields shown in `custom_place` (a deal made
    from a handoff passes none: nobody is there to fill a required one)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the deal a name.")})
    if stage is None:
        stage = first_open_stage(pipeline_ensure_default())
    if stage is None or stage.is_closed:
        raise ValidationError({"stage": _("A new deal starts in an open stage.")})
    if source is None:
        source = Deal.Source.SALES if handoff is None else Deal.Source.MARKETING
    if source not in Deal.Source.values:
        raise ValidationError({"source": _("Choose a source.")})
    if handoff is not None and source != Deal.Source.MARKETING:
        raise ValidationError({"source": _("A deal created from a marketing handoff is marketing-sourced.")})
    amount = _money("amount", amount)
    probability = stage.probability if probability is None else _probability(probability)
    custom_values = (
        {}
        if custom is None
        else custom_apply(object_type=CustomObject.DEAL, current={}, values=custom, place=custom_place)
    )
    now = created_at or timezone.now()
    if expected_close_date is None:
        expected_close_date = timezone.localdate(now) + dt.timedelta(days=DEFAULT_CLOSE_DAYS)
    deal = Deal.objects.create(
        name=name,
        company=company,
        contact=contact,
        owner=owner,
        team=team or owner.team,
        stage=stage,
        position=slot(stage=stage, index=0, exclude_pk=None),
        amount=amount,
        probability=probability,
        expected_close_date=expected_close_date,
        source=source,
        handoff=handoff,
        first_touch_campaign=first_touch_campaign,
        next_step=next_step,
        next_step_date=next_step_date,
        created_at=now,
        stage_changed_at=now,
        custom=custom_values,
    )
    StageChange.objects.create(deal=deal, from_stage=None, to_stage=stage, changed_by=by, changed_at=now)
    if by is not None and owner.pk != by.pk:
        _notify_on_commit(owner, messages.DEAL_NEW, deal)
    return deal


def deal_create_from_handoff(*, handoff: Handoff, by: User | None) -> Deal:
    """The seam the handoff flow calls when sales accepts a lead. A second call returns the same deal."""
    existing = Deal.objects.filter(handoff=handoff).first()
    if existing is not None:
        return existing
    lead = handoff.lead
    owner = handoff.owner or by or lead.owner
    if owner is None:
        raise ValidationError(_("The handoff has no rep to own the deal."))
    company = lead.company
    name = f"{company.name} / {lead}" if company is not None else str(lead)
    try:
        with transaction.atomic():
            return deal_create(
                name=name[:200],
                owner=owner,
                by=by,
                company=company,
                contact=lead,
                source=Deal.Source.MARKETING,
                team=handoff.team or owner.team,
                handoff=handoff,
                first_touch_campaign=handoff.campaign or lead.first_touch_campaign,
                created_at=handoff.decided_at,  # 商談化 is the moment sales accepted
            )
    except IntegrityError:  # a concurrent accept created it first (one deal per handoff)
        return Deal.objects.get(handoff=handoff)


def deal_discard_for_undone_handoff(*, handoff: Handoff) -> None:
    """HANDOFF_ACCEPT_UNDONE, which leads.handoffs calls when an acceptance is undone (seconds after it): the deal it created goes,
    unless someone already worked on it (moved, edited, logged an activity or a to-do), or a higher app made
    records from it that must be kept (a numbered quote: its number may leave no gap), then it stays and the
    undo is refused with this ValidationError."""
    deal = Deal.objects.select_for_update().filter(handoff=handoff).first()
    if deal is None:
        return
    if deal.version != 1 or deal.activities.exists() or deal.tasks.exists():
        raise ValidationError(_("The deal was already worked on; close it as lost instead."))
    try:
        with transaction.atomic():
            deal.delete()
    except ProtectedError as error:
        kept = sorted({str(obj._meta.verbose_name) for obj in error.protected_objects})
        raise ValidationError(
            _("The deal already has records that must be kept (%(records)s); close it as lost instead.")
            % {"records": ", ".join(kept)}
        ) from None


_UNSET: Any = object()


def amount_derived_reason(deal: Deal) -> str:
    """Why the deal's amount may not be typed (a higher app works it out), or "" when it may."""
    return next((reason for reason in hooks.call(hooks.DEAL_AMOUNT_DERIVED, deal=deal) if reason), "")


@transaction.atomic
def deal_update(
    *,
    deal: Deal,
    by: User | None,
    version: int | None = None,
    name: str = _UNSET,
    company: Company | None = _UNSET,
    contact: Lead | None = _UNSET,
    amount: Decimal | int | str = _UNSET,
    probability: int = _UNSET,
    expected_close_date: dt.date = _UNSET,
    source: str = _UNSET,
    next_step: str = _UNSET,
    next_step_date: dt.date | None = _UNSET,
    owner: User = _UNSET,
    amount_derived: bool = False,
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
) -> Deal:
    """Change a deal's fields (not its stage). With `version`, refuses when someone saved in between.

    A typed amount is refused when a higher app works the amount out (its line items' total: the hook
    DEAL_AMOUNT_DERIVED); that app sets it with `amount_derived`."""
    locked = _lock(deal)
    _check_version(locked, version)
    values: dict[str, Any] = {
        key: value
        for key, value in {
            "name": name,
            "company": company,
            "contact": contact,
            "amount": amount,
            "probability": probability,
            "expected_close_date": expected_close_date,
            "source": source,
            "next_step": next_step,
            "next_step_date": next_step_date,
            "owner": owner,
        }.items()
        if value is not _UNSET
    }
    values = _checked_values(locked, values)
    if custom is not None:  # the custom values given change; the others stay
        values["custom"] = custom_apply(
            object_type=CustomObject.DEAL, current=locked.custom, values=custom, place=custom_place
        )
    changed = [key for key, value in values.items() if getattr(locked, key) != value]
    if not changed:
        return locked
    if "amount" in changed and not amount_derived and (reason := amount_derived_reason(locked)):
        raise ValidationError({"amount": reason})
    new_owner = values.get("owner") if "owner" in changed else None
    for key in changed:
        setattr(locked, key, values[key])
    if new_owner is not None:
        locked.team = new_owner.team
        changed.append("team")
    locked.version += 1
    locked.save(update_fields=[*changed, "version", "updated_at"])
    if new_owner is not None and (by is None or new_owner.pk != by.pk):
        _notify_on_commit(new_owner, messages.DEAL_HANDED, locked)
    return locked


def deal_move_to_stage(
    *,
    deal: Deal,
    stage: Stage,
    position: int | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
    moved_by: User | None,
    version: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """Move a deal to an open stage, at `position` in the column (0 = top; None = top, or stay if same stage), or
    dropped between the cards `before_id` and `after_id` the viewer saw (either may be missing at the ends of the
    list; neither in that column: the default place).

    The row is locked first, so concurrent moves of one deal queue up, and each StageChange starts where the
    previous one ended. Without `version` the last one wins; with it, a move based on an older version raises
    DealChangedError. Repeating a move changes nothing (and is no conflict). A closed deal moved to an open stage
    is reopened. Won and lost need their own forms (amount; cause and side). `at` backdates an imported move.

    On PostgreSQL a move to another stage is one statement (pipeline.services.move_statement); a move within the
    column, a column to spread out again and SQLite take the steps below, in a transaction.
    """
    if (
        connection.vendor == "postgresql"
        and not stage.is_closed
        and deal.stage_id != stage.pk
        and not position
    ):
        moved = _move_at_once(
            deal=deal,
            stage=stage,
            neighbour_id=(before_id or after_id) if position is None else None,
            before=bool(before_id),
            moved_by=moved_by,
            version=version,
            at=at,
        )
        if moved is not None:
            return moved
    if position is None and (before_id is not None or after_id is not None):
        position = drop_index(deal=deal, stage=stage, before_id=before_id, after_id=after_id)
    return _move_locked(deal=deal, stage=stage, position=position, moved_by=moved_by, version=version, at=at)


def _check_pipeline(locked: Deal, stage: Stage) -> None:
    if stage.pipeline_id != locked.stage.pipeline_id:
        raise ValidationError({"stage": _("That stage belongs to another pipeline.")})


def _move_at_once(
    *,
    deal: Deal,
    stage: Stage,
    neighbour_id: int | None,
    before: bool,
    moved_by: User | None,
    version: int | None,
    at: dt.datetime | None,
) -> Deal | None:
    """The move as one statement; None when it wrote nothing and the steps must decide (the deal was moved to
    that stage meanwhile, or the column has no room left at the drop: it is spread out again)."""
    now = timezone.now()
    event = events.event_rows(
        kind=events.DEAL_STAGE_CHANGED,
        subject_type="deal",
        payloads=[(deal.pk, {"to_stage_id": stage.pk})],
        at=now,
    )[0]
    result = move_in_one_statement(
        deal_id=deal.pk,
        stage=stage,
        neighbour_id=neighbour_id,
        before=before,
        version=version,
        by_id=moved_by.pk if moved_by is not None else None,
        at=at,
        now=now,
        event=event,
    )
    if result is None:
        raise Deal.DoesNotExist("The deal does not exist.")
    if result.written is not None and result.event_id is not None:  # written together
        events.events_recorded([result.event_id])
        result.written.stage = stage
        return result.written
    _check_pipeline(result.locked, stage)
    if result.locked.stage_id != stage.pk:
        _check_version(result.locked, version)
    return None


@transaction.atomic
def _move_locked(
    *,
    deal: Deal,
    stage: Stage,
    position: int | None,
    moved_by: User | None,
    version: int | None,
    at: dt.datetime | None,
) -> Deal:
    locked = _lock(deal)
    _check_pipeline(locked, stage)
    if stage.is_closed:
        raise ValidationError({"stage": _("Close the deal as won or lost to move it there.")})

    if locked.stage_id == stage.pk:
        if position is None or position == column_index(deal=locked):
            return locked  # the same move again: nothing to do
        _check_version(locked, version)
        locked.position = slot(stage=stage, index=position, exclude_pk=locked.pk)
        locked.version += 1
        locked.save(update_fields=["position", "version", "updated_at"])
        return locked

    _check_version(locked, version)
    now = at or timezone.now()
    _record_change(deal=locked, to_stage=stage, by=moved_by, at=now)
    locked.stage = stage
    locked.probability = stage.probability
    locked.stage_changed_at = now
    locked.position = slot(stage=stage, index=position or 0, exclude_pk=locked.pk)
    fields = ["stage", "probability", "stage_changed_at", "position"]
    if locked.status != Deal.Status.OPEN:
        locked.status = Deal.Status.OPEN
        locked.closed_at = None
        locked.won_amount = None
        locked.loss_cause = locked.loss_side = locked.loss_note = ""
        fields += ["status", "closed_at", "won_amount", "loss_cause", "loss_side", "loss_note"]
    locked.version += 1
    locked.save(update_fields=[*fields, "version", "updated_at"])
    return locked


@transaction.atomic
def deal_close_won(
    *,
    deal: Deal,
    amount: Decimal | int | str | None,
    by: User | None,
    version: int | None = None,
    at: dt.datetime | None = None,
    notify: bool = True,
) -> Deal:
    """Close as won with the final amount (required). Closing again with the same amount changes nothing;
    a lost deal must be reopened first. The team's manager hears about it (not when importing history:
    notify=False)."""
    final = _money("amount", amount)
    locked = _lock(deal)
    if locked.status == Deal.Status.WON and locked.won_amount == final:
        return locked
    _check_version(locked, version)
    won_stage = closing_stage(locked.stage.pipeline_id, won=True)
    check_no_flip(status=locked.status, stage=won_stage)
    now = at or timezone.now()
    fields = ["status", "won_amount", "amount", "probability", "loss_cause", "loss_side", "loss_note"]
    if locked.stage_id != won_stage.pk:
        _record_change(deal=locked, to_stage=won_stage, by=by, at=now)
        locked.stage = won_stage
        locked.stage_changed_at = now
        fields += ["stage", "stage_changed_at"]
    if locked.status != Deal.Status.WON:
        locked.closed_at = now
        fields.append("closed_at")
    locked.status = Deal.Status.WON
    locked.won_amount = locked.amount = final
    locked.probability = 100
    locked.loss_cause = locked.loss_side = locked.loss_note = ""
    locked.version += 1
    locked.save(update_fields=[*fields, "version", "updated_at"])
    _emit(events.DEAL_WON, locked, amount=str(final))
    # The contact and the company become customers (leads' lifecycle history records it).
    deal_won_lifecycle(contact_id=locked.contact_id, company_id=locked.company_id, by=by, at=now)
    team = locked.team if notify and locked.team_id else None
    manager = team.manager if team is not None else None
    if manager is not None and (by is None or manager.pk != by.pk):
        _notify_on_commit(manager, messages.DEAL_WON, locked)
    return locked


@transaction.atomic
def deal_close_lost(
    *,
    deal: Deal,
    cause: str,
    side: str,
    note: str = "",
    by: User | None,
    version: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """Close as lost with a cause and whose side it was on (both required), for the lost-deal review.
    A won deal must be reopened first."""
    errors = {}
    if cause not in Deal.LossCause.values:
        errors["cause"] = _("Choose why the deal was lost.")
    if side not in Deal.LossSide.values:
        errors["side"] = _("Choose whose side the cause was on.")
    if errors:
        raise ValidationError(errors)
    note = (note or "").strip()
    locked = _lock(deal)
    if locked.status == Deal.Status.LOST and (locked.loss_cause, locked.loss_side, locked.loss_note) == (
        cause,
        side,
        note,
    ):
        return locked
    _check_version(locked, version)
    lost_stage = closing_stage(locked.stage.pipeline_id, won=False)
    check_no_flip(status=locked.status, stage=lost_stage)
    now = at or timezone.now()
    fields = ["status", "won_amount", "probability", "loss_cause", "loss_side", "loss_note"]
    if locked.stage_id != lost_stage.pk:
        _record_change(deal=locked, to_stage=lost_stage, by=by, at=now)
        locked.stage = lost_stage
        locked.stage_changed_at = now
        fields += ["stage", "stage_changed_at"]
    if locked.status != Deal.Status.LOST:
        locked.closed_at = now
        fields.append("closed_at")
    locked.status = Deal.Status.LOST
    locked.won_amount = None
    locked.probability = 0
    locked.loss_cause, locked.loss_side, locked.loss_note = cause, side, note
    locked.version += 1
    locked.save(update_fields=[*fields, "version", "updated_at"])
    _emit(events.DEAL_LOST, locked, loss_cause=cause, loss_side=side)  # the note is free text: not sent
    if locked.contact_id is not None:
        # A contact whose deals are now all lost goes back to nurture.
        not_lost = Deal.objects.filter(contact_id=locked.contact_id).exclude(status=Deal.Status.LOST).count()
        deal_lost_lifecycle(contact_id=locked.contact_id, open_or_won_deals=not_lost, by=by, at=now)
    return locked


class StageChangeInvalid(ValidationError):
    """A ValidationError from the move or close part of `deal_edit`: its fields are the closing's (`stage`,
    `amount` for the won amount, `cause`, `side`, `note`), which a caller may name its own way."""


@dataclass(frozen=True)
class Closing:
    """What closing a deal takes: the won amount, or the loss cause, whose side it was on and a note."""

    amount: Decimal | int | str | None = None
    cause: str = ""
    side: str = ""
    note: str = ""


def deal_check_close(*, deal: Deal, stage: Stage, version: int | None) -> None:
    """Before asking for a close's details (a card dropped on the won or lost column): a deal changed since
    `version` raises DealChangedError, a won deal dropped on lost (or back) a ValidationError. Writes nothing."""
    if version is not None and version != deal.version:
        raise DealChangedError(deal)
    check_no_flip(status=deal.status, stage=stage)


def deal_change_stage(
    *,
    deal: Deal,
    stage: Stage,
    by: User | None,
    version: int | None = None,
    position: int | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
    amount: Decimal | int | str | None = None,
    cause: str = "",
    side: str = "",
    note: str = "",
) -> Deal:
    """Move, close or reopen a deal: the board, the deal page and the API all come through here.

    An open stage moves the deal there (at `position`, or dropped between the cards `before_id` and `after_id`;
    a closed deal is reopened); the won stage closes it as won with `amount`; the lost stage as lost with
    `cause`, `side` and `note`. With `version`, a deal changed since raises DealChangedError; won and lost never
    flip into each other without reopening (ValidationError keyed by field).

    Not a transaction of its own: each write it hands over to is one (locking the row first), and a transaction
    around them would only add a savepoint round trip to every move.
    """
    if stage.is_won or stage.is_lost:
        if stage.pipeline_id != deal.stage.pipeline_id:
            raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
        if stage.is_won:
            return deal_close_won(deal=deal, amount=amount, by=by, version=version)
        return deal_close_lost(deal=deal, cause=cause, side=side, note=note, by=by, version=version)
    return deal_move_to_stage(
        deal=deal,
        stage=stage,
        position=position,
        before_id=before_id,
        after_id=after_id,
        moved_by=by,
        version=version,
    )


@transaction.atomic
def deal_edit(
    *,
    deal: Deal,
    by: User | None,
    version: int | None = None,
    changes: dict[str, Any] | None = None,
    stage: Stage | None = None,
    closing: Closing | None = None,
) -> Deal:
    """Change fields and move or close in one step, all or nothing (the API's PATCH).

    `changes` are deal_update's fields; `stage` then moves or closes the deal as deal_change_stage does, the won
    amount defaulting to a changed `amount`. `version` is checked once, against the deal as the caller saw it.
    Field errors are ValidationErrors; the move's or close's are StageChangeInvalid.
    """
    changes = changes or {}
    closing = closing or Closing()
    if changes or (version is not None and stage is None):
        deal = deal_update(deal=deal, by=by, version=version, **changes)
        if version is not None:
            version = deal.version  # checked; the stage change below follows this edit
    if stage is None:
        return deal
    try:
        return deal_change_stage(
            deal=deal,
            stage=stage,
            by=by,
            version=version,
            amount=closing.amount if closing.amount is not None else changes.get("amount"),
            cause=closing.cause,
            side=closing.side,
            note=closing.note,
        )
    except ValidationError as error:
        raise StageChangeInvalid(error) from None


def _notify_on_commit(recipient: User, message: Message, deal: Deal) -> None:
    params, url = {"name": deal.name}, deal.get_absolute_url()
    transaction.on_commit(
        lambda: notification_send(recipient=recipient, message=message, params=params, url=url)
    )
