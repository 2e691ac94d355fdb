"""Storing a batch of validated events set-based: replays, companies, leads, visitors, campaigns, touches,
roll-ups and the worker, in a fixed number of queries whatever the batch size."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.bulk import AnyOf, events_insert, insert_ignore_returning, update_by_pk
from leads.choices import LeadSource, TouchType
from leads.custom_fields.services import custom_values_check
from leads.ingest.schema import (
    COMPANY_FILL_FIELDS,
    LEAD_PROFILE_FIELDS,
    MAX_EVENTS_PER_BATCH,
    EventIn,
    Rejected,
    events_validate,
    prefecture_region,
)
from leads.models import Campaign, Company, CustomObject, FieldDefinition, Lead, Touch, Visitor
from leads.models.leads import lead_match_keys
from leads.records.normalize import company_name_key
from leads.services import (
    SUBMITTED_FIELDS,
    SUBMITTED_KEY,
    company_resolve,
    lead_created_payload,
    lead_upsert,
    leads_touched,
)
from salesmarketing import events, hooks
from salesmarketing.models import User

logger = logging.getLogger(__name__)
BIGINT_MAX = 2**63 - 1

# The lead columns an event can change, read under the row lock before writing.
PROFILE_COLUMNS = (*LEAD_PROFILE_FIELDS, "company_id", "consent_email", "custom")


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    leads_created: int = 0
    lead_ids: list[int] = field(default_factory=list)  # leads whose touches changed


def events_ingest(
    *,
    events: Sequence[Any],
    source: str,
    lead_source: str = LeadSource.API,
    campaign_id: int | None = None,
    visible_to: User | None = None,
    authenticated: bool = False,
) -> IngestResult:
    """Validate and store a batch of events from one `source` (e.g. "api:" + the key's source).

    `authenticated` says who vouches for the profile values (name, title, company, phone…): an integration's API
    key or a signed-in user's import may replace what is known (with non-empty values). Anyone else (the public
    form, the tracking snippet, the email pixel) can type any email, so their values only fill a lead's EMPTY
    fields and never give a lead that has a company another one; what they sent is kept on the touch
    (`properties["submitted"]`) and the lead page offers the differing values for a person to accept
    (`leads.services.lead_accept_submitted`).

    Every event is judged on its own: invalid ones are reported by index, a replayed id (same source, same id,
    in this batch or any earlier one) is counted as a duplicate and changes nothing, the rest are stored.
    `campaign_id` links touches whose UTM campaign matches no campaign (a form endpoint's campaign).
    `visible_to` (an API key's user) limits the existing leads the events may touch to those that user sees in
    the app: an event naming another lead, by id, email or a visitor id tied to it, is rejected. None: every
    lead (an integration's key, our own forms and tracking, imports).

    Inside a caller's transaction it is one atomic unit. Otherwise it runs as two short transactions: first the
    rows other batches may need too (companies, leads, visitors), then the touches and what they change on
    their leads; a failure in between leaves only those rows, which the resent batch reuses. A lost race with
    a concurrent identical batch is retried, and then reads as duplicates.
    """
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ValueError(f"At most {MAX_EVENTS_PER_BATCH} events per call")
    valid, rejected = events_validate(events)
    valid, custom_rejected = _custom_checked(valid, authenticated=authenticated)
    rejected += custom_rejected
    # Outside a transaction, the rows other batches may also create (companies, leads, visitors) commit first,
    # on their own: a concurrent batch naming the same new lead then waits for that short transaction, not for
    # this whole batch. Inside a caller's transaction everything is one unit.
    two_phase = not connection.in_atomic_block
    for attempt in range(3):
        try:
            if two_phase:
                with transaction.atomic():
                    batch = _prepare(
                        valid,
                        source=source,
                        lead_source=lead_source,
                        visible_to=visible_to,
                        authenticated=authenticated,
                    )
                with transaction.atomic():
                    result = _write(batch, campaign_id=campaign_id)
            else:
                with transaction.atomic():
                    result = _write(
                        _prepare(
                            valid,
                            source=source,
                            lead_source=lead_source,
                            visible_to=visible_to,
                            authenticated=authenticated,
                        ),
                        campaign_id=campaign_id,
                    )
            break
        except (IntegrityError, OperationalError) as exc:
            if attempt == 2 or not _is_race(exc):
                raise
            logger.info("events_ingest: retrying after a concurrent write (%s)", exc)
    result.rejected = sorted(rejected + result.rejected, key=lambda r: r.index)
    return result


def _custom_checked(
    valid: list[tuple[int, EventIn]], *, authenticated: bool
) -> tuple[list[tuple[int, EventIn]], list[Rejected]]:
    """Each event's custom values checked by type against the leads' live custom fields (one query, only when an
    event has some) and replaced by their stored form. From an authenticated sender (an API key, an import) a
    bad value rejects the event, naming the field (`custom.<key>`); from anyone else (a public form) it is only
    left out, so a typo in a budget field never loses the person who sent it."""
    if not any(ev.custom for _index, ev in valid):
        return valid, []
    definitions = {
        d.key: d for d in FieldDefinition.objects.live().of(CustomObject.LEAD).order_by("position", "pk")
    }
    kept: list[tuple[int, EventIn]] = []
    rejected: list[Rejected] = []
    for index, ev in valid:
        cleaned, errors = custom_values_check(definitions, ev.custom)
        values = {key: value for key, value in cleaned.items() if value is not None}  # empty never erases
        if errors and authenticated:
            rejected.append(Rejected(index=index, errors=errors))
            continue
        ev.custom = values
        kept.append((index, ev))
    return kept, rejected


def _is_race(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):  # e.g. a lead deleted between our read and our insert
        return True
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")  # deadlock, serialization failure


@dataclass
class _Batch:
    """What preparing a batch learned, for writing it."""

    source: str
    now: dt.datetime
    result: IngestResult
    authenticated: bool = False
    unique: list[tuple[int, EventIn]] = field(default_factory=list)
    lead_by_email: dict[str, int] = field(default_factory=dict)
    company_of: dict[int, int] = field(default_factory=dict)  # event index → company pk
    visitor_lead: dict[str, int | None] = field(default_factory=dict)
    # Visitors seen anonymously before and identified by this batch: their old touches move to the lead.
    newly_identified: set[str] = field(default_factory=set)

    def lead_of(self, ev: EventIn) -> int | None:
        return self.lead_by_email[ev.email] if ev.email else ev.lead_id


def _prepare(
    valid: list[tuple[int, EventIn]],
    *,
    source: str,
    lead_source: str,
    visible_to: User | None = None,
    authenticated: bool = False,
) -> _Batch:
    """Drop replays, bad lead ids and leads hidden from `visible_to`; make sure the companies, leads and
    visitors the batch names exist."""
    result = IngestResult()
    now = timezone.now()
    batch = _Batch(source=source, now=now, result=result, authenticated=authenticated)
    if not valid:
        return batch

    # 1. Replays of earlier batches: one indexed lookup on (source, idempotency_key).
    known = set(
        Touch.objects.filter(
            AnyOf(F("idempotency_key"), {ev.id for _i, ev in valid}), source=source
        ).values_list("idempotency_key", flat=True)
    )
    candidates = [(i, ev) for i, ev in valid if ev.id not in known]
    result.duplicates += len(valid) - len(candidates)

    # 2. The leads the events name, by email or id.
    emails = {ev.email for _i, ev in candidates if ev.email}
    named_ids = {
        ev.lead_id for _i, ev in candidates if ev.lead_id and ev.lead_id <= BIGINT_MAX
    }  # else: no lead
    found: list[tuple[int, str, int | None]] = []
    if emails or named_ids:
        # A merged lead (leads.merge) is its survivor, by its address or by its old id (an email's tracking and
        # unsubscribe links carry the id of the lead it was sent to).
        rows = Lead.all_objects.filter(
            Q(AnyOf(Lower("email"), emails)) | Q(AnyOf(F("pk"), named_ids))
        ).values_list("pk", Lower("email"), "company_id", "merged_into_id")
        survivor_of: dict[int, int] = {}
        for pk, email, company, survivor in rows:
            found.append((survivor or pk, email, company))
            if survivor:
                survivor_of[pk] = survivor
        if survivor_of:
            candidates = [
                (
                    i,
                    ev.model_copy(update={"lead_id": survivor_of[ev.lead_id]})
                    if ev.lead_id in survivor_of
                    else ev,
                )
                for i, ev in candidates
            ]
    known_ids = {pk for pk, _email, _company in found}
    lead_by_email = {email: pk for pk, email, _company in found}
    has_company = {pk for pk, _email, company in found if company}
    hidden, visitor_lead = (
        _hidden_leads(candidates, known_ids, visible_to) if visible_to is not None else (set(), {})
    )
    fresh = _reject_unseen(candidates, known_ids, hidden, lead_by_email, visitor_lead, result)

    # 3. Repeats inside this batch: the first occurrence wins.
    unique = _first_occurrences(fresh, result)
    if not unique:
        return batch

    # 4. Companies, then the leads that do not exist yet (so touches can point at them). An unauthenticated
    #    event never names the company of a lead that has one: no company is created for it.
    company_of = _companies_resolve(
        [
            (index, ev)
            for index, ev in unique
            if authenticated or (lead_by_email.get(ev.email) if ev.email else ev.lead_id) not in has_company
        ],
        now=now,
    )
    _leads_create(unique, lead_by_email, company_of, lead_source=lead_source, result=result)
    batch.unique, batch.lead_by_email, batch.company_of = unique, lead_by_email, company_of

    # 5. Visitors: who they are, and who this batch says they are.
    batch.visitor_lead, batch.newly_identified = _visitors_stitch(unique, lead_of=batch.lead_of, now=now)
    return batch


def _reject_unseen(
    candidates: list[tuple[int, EventIn]],
    known_ids: set[int],
    hidden: set[int],
    lead_by_email: dict[str, int],
    visitor_lead: dict[str, int],
    result: IngestResult,
) -> list[tuple[int, EventIn]]:
    """The events that name no missing lead and none hidden from the key's user; the others are rejected."""
    fresh: list[tuple[int, EventIn]] = []
    for index, ev in candidates:
        if ev.lead_id and (ev.lead_id not in known_ids or ev.lead_id in hidden):
            # A lead the key's user may not see answers like no lead at all, as its page would (404).
            result.rejected.append(Rejected(index=index, errors={"lead_id": [_("No lead with this id.")]}))
        elif ev.email and lead_by_email.get(ev.email) in hidden:
            result.rejected.append(
                Rejected(index=index, errors={"email": [_("The key's user may not see this lead.")]})
            )
        elif ev.visitor_id and visitor_lead.get(ev.visitor_id) in hidden:
            result.rejected.append(
                Rejected(
                    index=index,
                    errors={"visitor_id": [_("This visitor is a lead the key's user may not see.")]},
                )
            )
        else:
            fresh.append((index, ev))
    return fresh


def _first_occurrences(events: list[tuple[int, EventIn]], result: IngestResult) -> list[tuple[int, EventIn]]:
    """Each event id once (the first occurrence); the repeats count as duplicates."""
    seen: set[str] = set()
    unique: list[tuple[int, EventIn]] = []
    for index, ev in events:
        if ev.id in seen:
            result.duplicates += 1
        else:
            seen.add(ev.id)
            unique.append((index, ev))
    return unique


def _leads_create(
    unique: list[tuple[int, EventIn]],
    lead_by_email: dict[str, int],
    company_of: dict[int, int],
    *,
    lead_source: str,
    result: IngestResult,
) -> None:
    """Create the leads the events name by an email no lead has yet, and add them to `lead_by_email`."""
    new_leads: dict[str, dict[str, Any]] = {}
    for index, ev in unique:
        if ev.email and ev.email not in lead_by_email:
            row = new_leads.setdefault(ev.email, {"email": ev.email, "source": lead_source})
            _merge_profile(row, ev, company_of.get(index))
    for row in new_leads.values():
        row.update(
            lead_match_keys(**{k: v for k, v in row.items() if k in ("email", "phone", "name", "name_kana")})
        )
    if new_leads:
        created = insert_ignore_returning(
            Lead, [new_leads[email] for email in sorted(new_leads)], returning=("id", "email")
        )
        result.leads_created = len(created)
        events_insert(
            kind=events.LEAD_CREATED,
            subject_type="lead",
            payloads=[(pk, lead_created_payload(pk, lead_source)) for pk, _email in created],
        )
        lead_by_email.update({email: pk for pk, email in created})
        if len(created) < len(new_leads):  # created by a concurrent request a moment ago
            missing = [email for email in new_leads if email not in lead_by_email]
            lead_by_email.update(
                (email, survivor or pk)
                for pk, email, survivor in Lead.all_objects.filter(
                    AnyOf(Lower("email"), missing)
                ).values_list("pk", Lower("email"), "merged_into_id")
            )


def _hidden_leads(
    candidates: list[tuple[int, EventIn]], known_ids: set[int], viewer: User
) -> tuple[set[int], dict[str, int]]:
    """The leads among those the events name (by id or email: `known_ids`; by a visitor id already tied to a
    lead) that `viewer` may not see, and {visitor id: lead id} for the visitors tied to a lead. At most two
    queries, none for a viewer who sees every lead."""
    visible = Lead.objects.visible_to(viewer)
    if not visible.query.has_filters():
        return set(), {}
    visitor_ids = {ev.visitor_id for _i, ev in candidates if ev.visitor_id}
    visitor_lead: dict[str, int] = (
        dict(
            Visitor.objects.filter(AnyOf(F("visitor_id"), visitor_ids), lead__isnull=False).values_list(
                "visitor_id", "lead_id"
            )
        )
        if visitor_ids
        else {}
    )
    named = known_ids | set(visitor_lead.values())
    if not named:
        return set(), visitor_lead
    seen = set(visible.filter(AnyOf(F("pk"), named)).values_list("pk", flat=True))
    return named - seen, visitor_lead


# A new touch as the lead updates need it: (lead id, occurred at, campaign id).
NewTouch = tuple[int | None, dt.datetime, int | None]


def _write(batch: _Batch, *, campaign_id: int | None) -> IngestResult:
    """Store the touches of a prepared batch, then what they change on their leads."""
    result = batch.result
    if not batch.unique:
        return result
    rows = _touch_rows(batch, campaign_by_code=_campaigns_by_code(batch), campaign_id=campaign_id)
    inserted = dict(insert_ignore_returning(Touch, rows, returning=("idempotency_key", "lead_id")))
    result.accepted = len(inserted)
    result.duplicates += len(rows) - len(inserted)  # stored by a concurrent identical batch meanwhile
    stored = [(i, ev) for i, ev in batch.unique if ev.id in inserted]
    new_touches: list[NewTouch] = [
        (r["lead_id"], r["occurred_at"], r["campaign_id"]) for r in rows if r["idempotency_key"] in inserted
    ]
    new_touches += _move_anonymous_touches(batch, stored)
    touched = {lead_id for lead_id, _at, _camp in new_touches if lead_id}
    if not touched:
        return result
    current = _lock_changing_leads(batch, stored, inserted, new_touches)
    changes = _first_touch_campaigns(new_touches, current)
    for lead_id, wanted in _profile_changes(batch, stored, inserted, current).items():
        changes.setdefault(lead_id, {}).update(wanted)
    update_by_pk(Lead, changes)
    unsubscribed = sorted(lead_id for lead_id, change in changes.items() if change.get("unsubscribed_at"))
    events_insert(
        kind=events.LEAD_UNSUBSCRIBED,
        subject_type="lead",
        payloads=[(lead_id, {"lead_id": lead_id}) for lead_id in unsubscribed],
    )
    leads_touched(touched)
    _sales_touches_recorded(batch, rows, inserted)
    _email_touches_recorded(rows, inserted)
    result.lead_ids = sorted(touched)
    return result


def _sales_touches_recorded(batch: _Batch, rows: list[dict], inserted: dict[str, int | None]) -> None:
    """A `sales_activity` event from an authenticated sender (an API key, an import) stops the SLA clock of its
    lead's open handoff, as an activity logged on the lead's page does (leads.services.touch_record). Earliest
    first, so the first touch is the earliest one after the assignment. Public capture paths never vouch for one."""
    if not batch.authenticated:
        return
    sales = sorted(
        (r["occurred_at"], r["lead_id"])
        for r in rows
        if r["type"] == TouchType.SALES_ACTIVITY and r["lead_id"] and r["idempotency_key"] in inserted
    )
    for at, lead_id in sales:
        hooks.call(hooks.SALES_TOUCH_RECORDED, lead_id=lead_id, at=at)


def _email_touches_recorded(rows: list[dict], inserted: dict[str, int | None]) -> None:
    """New opens and clicks of a lead that name the message they were made for (the tracking pixel and links,
    leads.capture) tell the app that sent it (EMAIL_TOUCHES_RECORDED)."""
    touches = [
        (r["lead_id"], r["type"], str(r["properties"]["message"]), r["occurred_at"])
        for r in rows
        if r["type"] in (TouchType.EMAIL_OPEN, TouchType.EMAIL_CLICK)
        and r["lead_id"]
        and r["idempotency_key"] in inserted
        and isinstance(r["properties"], dict)
        and r["properties"].get("message")
    ]
    if touches:
        hooks.call(hooks.EMAIL_TOUCHES_RECORDED, touches=touches)


def _campaigns_by_code(batch: _Batch) -> dict[str, int]:
    """The campaigns the batch names by UTM code: one query."""
    codes = {ev.utm_campaign for _i, ev in batch.unique if ev.utm_campaign}
    if not codes:
        return {}
    return dict(Campaign.objects.filter(utm_campaign__in=codes).values_list("utm_campaign", "pk"))


def _touch_rows(batch: _Batch, *, campaign_by_code: dict[str, int], campaign_id: int | None) -> list[dict]:
    """The touches to insert, in key order so concurrent batches take their locks in the same order."""
    return [
        {
            "lead_id": batch.lead_of(ev) or batch.visitor_lead.get(ev.visitor_id or ""),
            "visitor_id": ev.visitor_id or "",
            "type": ev.type,
            "occurred_at": ev.occurred_at or batch.now,
            "url": ev.url,
            "utm_source": ev.utm_source,
            "utm_medium": ev.utm_medium,
            "utm_campaign": ev.utm_campaign,
            "utm_content": ev.utm_content,
            "utm_term": ev.utm_term,
            "campaign_id": campaign_by_code.get(ev.utm_campaign, campaign_id),
            "properties": ev.properties if batch.authenticated else _with_submitted(ev),
            "source": batch.source,
            "idempotency_key": ev.id,
        }
        for _index, ev in sorted(batch.unique, key=lambda item: item[1].id)
    ]


def _move_anonymous_touches(batch: _Batch, stored: list[tuple[int, EventIn]]) -> list[NewTouch]:
    """Earlier anonymous touches of visitors identified now move to their lead; returns them as new touches."""
    identified = {
        ev.visitor_id for _i, ev in stored if ev.visitor_id and batch.lead_of(ev)
    } & batch.newly_identified
    if not identified:
        return []
    anonymous = list(
        Touch.objects.filter(AnyOf(F("visitor_id"), identified), lead__isnull=True).values_list(
            "pk", "visitor_id", "occurred_at", "campaign_id"
        )
    )
    if not anonymous:
        return []
    Touch.objects.filter(AnyOf(F("pk"), [row[0] for row in anonymous]), lead__isnull=True).update(
        lead_id=Subquery(Visitor.objects.filter(visitor_id=OuterRef("visitor_id")).values("lead_id")[:1])
    )
    return [(batch.visitor_lead[vid], at, camp) for _pk, vid, at, camp in anonymous]


def _lock_changing_leads(
    batch: _Batch,
    stored: list[tuple[int, EventIn]],
    inserted: dict[str, int | None],
    new_touches: list[NewTouch],
) -> dict[int, dict[str, Any]]:
    """Lock the leads whose row this batch may change (a profile or consent in an event, an unsubscribe, a
    campaign for a lead without a first-touch campaign yet), in pk order, and read them under the lock:
    concurrent batches that share them queue behind each other (no deadlock, no lost update). The other touched
    leads are not written here: their last_touch_at is the scorer's, which rewrites each of their rows after
    this commit anyway.

    A campaign's touch locks its lead only while the lead has no first-touch campaign, and that is part of the
    locking query: a lead that already has one (most of them, after their first campaign) is neither locked nor
    waited for, so a batch of campaign clicks does not queue behind a long transaction holding those leads (a
    rescore step). A lead another batch gives its first-touch campaign meanwhile is re-checked once that batch
    commits, and left out."""
    first_touch = {lead_id for lead_id, _at, campaign in new_touches if lead_id and campaign}
    profile = set()
    for index, ev in stored:
        lead_id = inserted[ev.id]
        if lead_id and (
            ev.type == TouchType.UNSUBSCRIBE or (batch.lead_of(ev) and _has_profile(ev, batch, index))
        ):
            profile.add(lead_id)
    first_touch -= profile
    if not first_touch and not profile:
        return {}
    wanted = Q()
    if first_touch:
        wanted |= Q(AnyOf(F("pk"), first_touch), first_touch_campaign__isnull=True)
    if profile:
        wanted |= Q(AnyOf(F("pk"), profile))
    return {
        row["pk"]: row
        for row in Lead.objects.filter(wanted)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values("pk", "first_touch_campaign_id", "unsubscribed_at", *PROFILE_COLUMNS)
    }


def _first_touch_campaigns(
    new_touches: list[NewTouch], current: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """A locked lead without a first-touch campaign takes the campaign of its earliest new touch that has one."""
    first_campaign: dict[int, tuple[dt.datetime, int]] = {}
    for lead_id, occurred_at, campaign in new_touches:
        row = current.get(lead_id) if lead_id else None
        if row is None or not campaign or row["first_touch_campaign_id"] is not None:
            continue
        earliest = first_campaign.get(row["pk"])
        if earliest is None or occurred_at < earliest[0]:
            first_campaign[row["pk"]] = (occurred_at, campaign)
    return {
        lead_id: {"first_touch_campaign_id": campaign} for lead_id, (_at, campaign) in first_campaign.items()
    }


def _profile_changes(
    batch: _Batch,
    stored: list[tuple[int, EventIn]],
    inserted: dict[str, int | None],
    current: dict[int, dict[str, Any]],
) -> dict[int, dict[str, Any]]:
    """What the stored events change on their locked leads: the profile (only from stored events: a replay
    changes nothing) and consent on unsubscribe. `current` follows each change, so later events see it."""
    changes: dict[int, dict[str, Any]] = {}
    for index, ev in stored:
        lead_id = inserted[ev.id]
        row = current.get(lead_id) if lead_id else None
        if row is None:
            continue
        wanted = _event_wants(batch, index, ev, row)
        if wanted:
            row.update(wanted)
            wanted.update(
                lead_match_keys(**{k: row[k] for k in ("phone", "name", "name_kana") if k in wanted})
            )
            changes.setdefault(row["pk"], {}).update(wanted, updated_at=batch.now)
    return changes


def _event_wants(batch: _Batch, index: int, ev: EventIn, row: dict[str, Any]) -> dict[str, Any]:
    """The lead fields one event sets that differ from the lead's row."""
    wanted: dict[str, Any] = {}
    if batch.lead_of(ev):
        _merge_profile(wanted, ev, batch.company_of.get(index))
    if ev.type == TouchType.UNSUBSCRIBE:
        wanted["consent_email"] = False
        if row["unsubscribed_at"] is None:
            wanted["unsubscribed_at"] = ev.occurred_at or batch.now
    elif wanted.get("consent_email") and row["unsubscribed_at"]:
        # An unsubscribe is undone only on purpose (by hand), never by a later form post, import or event.
        del wanted["consent_email"]
    if "custom" in wanted:  # the values sent change their keys; the lead's other keys stay
        known, sent = row["custom"] or {}, wanted["custom"]
        # anyone may type this email: their values fill the keys the lead has no value for
        wanted["custom"] = {**known, **sent} if batch.authenticated else {**sent, **known}
    if not batch.authenticated:  # anyone may type this email: fill what is empty, keep what is known
        wanted = {
            name: value
            for name, value in wanted.items()
            if name not in (*LEAD_PROFILE_FIELDS, "company_id") or not row[name]
        }
    return {name: value for name, value in wanted.items() if row[name] != value}


def _with_submitted(ev: EventIn) -> dict[str, Any]:
    """The touch's properties with the profile values the event sent, for a person to review on the lead page."""
    submitted = {name: value for name in SUBMITTED_FIELDS if (value := getattr(ev, name))}
    if not submitted:
        return ev.properties
    return {**ev.properties, SUBMITTED_KEY: submitted}


def _has_profile(ev: EventIn, batch: _Batch, index: int) -> bool:
    """Whether the event carries anything for its lead's row (profile values, consent, a company)."""
    return (
        ev.consent_email is not None
        or bool(ev.custom)
        or index in batch.company_of
        or any(getattr(ev, name) for name in LEAD_PROFILE_FIELDS)
    )


def _merge_profile(row: dict[str, Any], ev: EventIn, company_id: int | None) -> None:
    """Fill `row` (attname → value) with the event's non-empty profile values; later events win."""
    for name in LEAD_PROFILE_FIELDS:
        value = getattr(ev, name)
        if value:
            row[name] = value
    if ev.consent_email is not None:
        row["consent_email"] = ev.consent_email
    if company_id:
        row["company_id"] = company_id
    if ev.custom:
        row["custom"] = {**row.get("custom", {}), **ev.custom}


def _company_key(ev: EventIn) -> tuple[str, str] | None:
    if ev.company_domain:
        return ("domain", ev.company_domain)
    if ev.company.strip():
        return ("name", ev.company.strip())
    return None


CompanyKey = tuple[str, str]  # ("domain", lower-cased domain) or ("name", exact name)


def _companies_resolve(events: Iterable[tuple[int, EventIn]], *, now: dt.datetime) -> dict[int, int]:
    """The company of each event that names one (by domain, else by exact name), created when missing and
    filled in where it lacks industry, size or place. Returns {event index: company pk}."""
    wanted, keyed = _companies_wanted(events)
    if not wanted:
        return {}
    found: dict[CompanyKey, dict[str, Any]] = {}
    _companies_read(found, {v for k, v in wanted if k == "domain"}, {v for k, v in wanted if k == "name"})
    missing = sorted(key for key in wanted if key not in found)
    if missing:
        _companies_create(found, wanted, missing)
    _companies_fill(found, wanted, now=now)
    return {index: found[key]["pk"] for index, key in keyed if key in found}


def _companies_wanted(
    events: Iterable[tuple[int, EventIn]],
) -> tuple[dict[CompanyKey, dict[str, Any]], list[tuple[int, CompanyKey]]]:
    """What the events say of each company they name (later events add to earlier ones), and each event's key."""
    wanted: dict[CompanyKey, dict[str, Any]] = {}
    keyed: list[tuple[int, CompanyKey]] = []
    for index, ev in events:
        key = _company_key(ev)
        if key is None:
            continue
        keyed.append((index, key))
        values = wanted.setdefault(
            key, {"name": ev.company.strip() or ev.company_domain, "domain": ev.company_domain}
        )
        if ev.industry:
            values["industry"] = ev.industry
        if ev.employee_count is not None:
            values["employee_count"] = ev.employee_count
        if ev.prefecture:
            values["prefecture"] = ev.prefecture.strip()
            values["region"] = prefecture_region(ev.prefecture) or values.get("region", "")
    return wanted, keyed


def _companies_read(found: dict[CompanyKey, dict[str, Any]], domains: set[str], names: set[str]) -> None:
    """Add the existing companies with these domains (any case) or exact names to `found` (one query)."""
    rows = (
        Company.all_objects.annotate(domain_lower=Lower("domain"))
        .filter(Q(domain_lower__in=domains) & ~Q(domain="") | Q(name__in=names))
        .order_by("merged_into", "pk")  # a live company before a merged one of the same name
        .values("pk", "name", "domain_lower", "merged_into_id", *COMPANY_FILL_FIELDS)
    )
    for row in rows:
        if row["merged_into_id"] is not None:
            # A merged company's name names its survivor, whose values this row does not hold: fill nothing.
            row = {**row, "pk": row["merged_into_id"], **dict.fromkeys(COMPANY_FILL_FIELDS, True)}
        if row["domain_lower"] in domains:
            found.setdefault(("domain", row["domain_lower"]), row)
        if row["name"] in names:
            found.setdefault(("name", row["name"]), row)


def _companies_create(
    found: dict[CompanyKey, dict[str, Any]],
    wanted: dict[CompanyKey, dict[str, Any]],
    missing: list[CompanyKey],
) -> None:
    """Insert the missing companies; one a concurrent request created meanwhile is read instead."""
    created = insert_ignore_returning(
        Company,
        [
            {
                **wanted[key],
                "region": wanted[key].get("region", ""),
                "name_key": company_name_key(wanted[key]["name"]),
            }
            for key in missing
        ],
        returning=("id", "name", "domain"),
    )
    for pk, name, domain in created:
        key = ("domain", domain.lower()) if domain else ("name", name)
        found[key] = {"pk": pk, **dict.fromkeys(COMPANY_FILL_FIELDS)}
    lost = [key for key in missing if key not in found]
    if lost:  # a concurrent request created the same domain meanwhile
        _companies_read(found, {v for k, v in lost if k == "domain"}, {v for k, v in lost if k == "name"})


def _companies_fill(
    found: dict[CompanyKey, dict[str, Any]], wanted: dict[CompanyKey, dict[str, Any]], *, now: dt.datetime
) -> None:
    """Fill what the companies lack (industry, size, place) from the events: one UPDATE."""
    fills: dict[int, dict[str, Any]] = {}
    for key, values in wanted.items():
        row = found.get(key)
        if row is None:
            continue
        for name in COMPANY_FILL_FIELDS:
            if values.get(name) not in (None, "") and not row.get(name):
                fills.setdefault(row["pk"], {})[name] = values[name]
                row[name] = values[name]
    update_by_pk(Company, fills, extra={"updated_at": now})


def _visitors_stitch(
    unique: list[tuple[int, EventIn]], *, lead_of, now: dt.datetime
) -> tuple[dict[str, int | None], set[str]]:
    """Record every visitor id seen and point the ones this batch identifies at their lead (the latest event
    wins). Returns {visitor id: lead id or None} for this batch's events, and the visitors that were anonymous
    until now (only they can have anonymous touches to move: a visitor new in this batch has none yet)."""
    visitor_ids = {ev.visitor_id for _i, ev in unique if ev.visitor_id}
    if not visitor_ids:
        return {}, set()
    identifies: dict[str, int] = {}
    for _index, ev in unique:
        if ev.visitor_id and (pk := lead_of(ev)):
            identifies[ev.visitor_id] = pk
    existing = {
        vid: (pk, lead_id)
        for pk, vid, lead_id in Visitor.objects.filter(AnyOf(F("visitor_id"), visitor_ids)).values_list(
            "pk", "visitor_id", "lead_id"
        )
    }
    new_rows = [
        {
            "visitor_id": vid,
            "lead_id": identifies.get(vid),
            "identified_at": now if vid in identifies else None,
            "first_seen_at": now,
        }
        for vid in sorted(visitor_ids - existing.keys())
    ]
    created = {vid for (vid,) in insert_ignore_returning(Visitor, new_rows, returning=("visitor_id",))}
    lost = {row["visitor_id"] for row in new_rows} - created
    if lost:  # another request recorded the same visitor meanwhile
        existing.update(
            {
                vid: (pk, lead_id)
                for pk, vid, lead_id in Visitor.objects.filter(visitor_id__in=lost).values_list(
                    "pk", "visitor_id", "lead_id"
                )
            }
        )
    update_by_pk(
        Visitor,
        {
            pk: {"lead_id": identifies[vid], "identified_at": now}
            for vid, (pk, lead_id) in existing.items()
            if vid in identifies and identifies[vid] != lead_id
        },
    )
    lead_of_visitor = {
        vid: identifies.get(vid) or (existing.get(vid) or (None, None))[1] for vid in visitor_ids
    }
    was_anonymous = {vid for vid, (_pk, lead_id) in existing.items() if vid in identifies and lead_id is None}
    return lead_of_visitor, was_anonymous


def lead_capture(
    *,
    email: str,
    source: str,
    company: str = "",
    company_domain: str = "",
    industry: str | None = None,
    employee_count: int | None = None,
    prefecture: str = "",
    visible_to: User | None = None,
    **fields: Any,
) -> tuple[Lead, bool]:
    """Create or fill in one lead and its company (the single-lead API). Returns (lead, created).

    Scores depend on the profile, so the worker is scheduled for the lead either way. With `visible_to` (an
    API key's user), an existing lead that user may not see is left as it was: Lead.DoesNotExist, as its page
    would answer 404.
    """
    with transaction.atomic():
        company_obj = company_resolve(
            name=company,
            domain=company_domain,
            industry=industry or "",
            employee_count=employee_count,
            prefecture=prefecture.strip(),
            region=prefecture_region(prefecture) if prefecture.strip() else "",
        )
        lead, created = lead_upsert(email=email, source=source, company=company_obj, **fields)
        # Checked after the upsert, inside its transaction, so a lead created concurrently is covered too:
        # raising rolls back the company and the lead's changes alike.
        if (
            visible_to is not None
            and not created
            and not Lead.objects.visible_to(visible_to).filter(pk=lead.pk).exists()
        ):
            raise Lead.DoesNotExist("The key's user may not see this lead.")
        leads_touched([lead.pk])
    return lead, created
