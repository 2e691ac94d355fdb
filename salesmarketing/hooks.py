"""Hooks: how a lower app starts work in a higher one without importing it.

The apps depend one way (salesmarketing → leads → campaigns, pipeline → kpis; pyproject.toml's layers contract).
Where a lower app must reach a higher one — a handoff accepted makes a deal, an erasure scrubs every app's rows —
the higher app registers a function at a named hook point in its `AppConfig.ready()`, and the lower app calls
whatever is registered:

    # pipeline/apps.py (the higher app)
    def ready(self) -> None:
        from pipeline.services import deal_create_from_handoff
        hooks.register(hooks.HANDOFF_ACCEPTED, deal_create_from_handoff)

    # leads/handoffs/services.py (the lower app)
    deals = hooks.call(hooks.HANDOFF_ACCEPTED, handoff=handoff, by=by)

`call` passes keyword arguments only and returns each function's result, in registration order (the order of
INSTALLED_APPS). A hook point with nothing registered returns `[]`, so the lower app never asks whether a higher
one is installed. The hook points, and what each registered function takes and returns, are listed below; a name
that is not one of them is a programming error (ValueError), not a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

# Accepting a handoff (leads.handoffs.services.handoff_accept, in its transaction): fn(*, handoff, by) -> the Deal created
# (or the existing one). Registered by pipeline.
HANDOFF_ACCEPTED: Final = "handoff_accepted"
# Undoing an acceptance seconds after it (leads.handoffs.services.handoff_decision_undo, in its transaction):
# fn(*, handoff) -> None; removes what the acceptance made (the deal), or raises ValidationError to refuse the
# undo (the deal was worked on meanwhile). Registered by pipeline.
HANDOFF_ACCEPT_UNDONE: Final = "handoff_accept_undone"
# Whether a deal's amount is worked out by a higher app rather than typed (pipeline.services.deal_update, when a
# change of the amount is asked for, and the deal page's edit form): fn(*, deal) -> a message saying why it may
# not be typed, or "" when it may; a deal read with its `item_count` (DEAL_ITEM_COUNT) is answered without a query.
# Registered by quotes (a deal with line items has their total as its amount).
DEAL_AMOUNT_DERIVED: Final = "deal_amount_derived"
# Erasing a lead (leads.privacy.lead_erase, in its transaction, before the lead's own rows go):
# fn(*, lead, visitor_ids: list[str], mentions: list[str], scrub: Callable[[str], str], now) -> dict[str, int],
# the rows the app changed by kind (merged into the ErasureRecord's counts). Each app scrubs its own rows.
# Registered by pipeline, campaigns and kpis.
LEAD_ERASING: Final = "lead_erasing"
# Exporting a lead's data (leads.privacy.lead_export): fn(*, lead) -> dict, sections added to the export document.
# Registered by pipeline (activities, deals).
LEAD_EXPORTING: Final = "lead_exporting"
# The deals, for lower pages and reads that show or count them (a company's deals, a persona's, score
# calibration, attribution's deal conversions): fn() -> QuerySet of pipeline.Deal, with `.visible_to(viewer)`.
# Registered by pipeline.
DEALS: Final = "deals"
# The header's search (leads.search.selectors.search), after leads' own groups (leads, companies):
# fn(*, viewer, terms: leads.search.query.Terms, limit: int) -> leads.search.selectors.SearchGroup (or None): at
# most `limit` records of the app's kind the viewer may read that match `terms`, in one query. Registered by
# pipeline (deals).
SEARCH: Final = "search"

# The lead list's bulk bar (leads.views.lead_list): fn(*, user) -> list of (label, url), each a button that posts
# the selected leads' ids (`lead`, repeated) to `url`. Registered by nurture ("add to a static segment").
LEAD_LIST_ACTIONS: Final = "lead_list_actions"
# The lead list's bulk jobs (leads.bulk_actions): fn(*, user) -> list of leads.bulk_actions.extra.ExtraAction, the
# actions the user may run on many leads at once (a target to pick, a check, and a set-based, idempotent `apply` of
# one batch of lead ids). Registered by nurture (add to a static list, enrol in a sequence).
LEAD_BULK_ACTIONS: Final = "lead_bulk_actions"
# The lead page's actions (leads.views.lead_detail): fn(*, user, lead) -> list of (label, url), each a link on the
# lead's page. Registered by nurture ("enrol in a sequence").
LEAD_PAGE_ACTIONS: Final = "lead_page_actions"
# The lead page's timeline (leads.detail.selectors.lead_timeline): fn(*, lead, viewer) -> list of
# leads.detail.selectors.TimelineSource, kinds of the lead's rows shown among its touches in time order, each read
# by keyset in the timeline's one statement (so a page costs the same whatever the history). The viewer may see
# the lead. Registered by nurture (sequence enrolments, step e-mails and exits; broadcasts sent).
LEAD_TIMELINE: Final = "lead_timeline"
# Rejecting a handoff (leads.handoffs.services.handoff_reject, in its transaction, after the lead is updated):
# fn(*, handoff, by) -> anything. Registered by nurture (a lead rejected as too early / no budget enters the
# sequences that ask for it); work queued from here must wait for transaction.on_commit.
HANDOFF_REJECTED: Final = "handoff_rejected"

# A sales activity recorded on a lead (leads.services.touch_record, once per new touch; leads.ingest, once per new
# `sales_activity` event from an API key or an import): fn(*, lead_id, at) -> the
# number of handoffs it touched first (their SLA clock stops). Registered by the handoffs feature
# (leads.handoffs.services.lead_first_touched, in leads' AppConfig.ready()).
SALES_TOUCH_RECORDED: Final = "sales_touch_recorded"
# Open and click touches recorded (leads.ingest, in the touches' transaction, once per batch with any new such
# touch of a lead carrying a `message` property): fn(*, touches: list[tuple[lead_id, type, message, occurred_at]])
# -> anything. Registered by nurture (the first open and click of each sent message, on its send ledger row).
EMAIL_TOUCHES_RECORDED: Final = "email_touches_recorded"
# The deal page's extra sections (pipeline.views.deal_detail): fn(*, deal, request) -> HTML (a SafeString the
# higher app rendered from its own template, already checked against the viewer), shown below the deal's
# figures. Registered by quotes (line items and quotes).
DEAL_PAGE_SECTIONS: Final = "deal_page_sections"
# An e-mail that reached us (salesmarketing.inbound.inbound_email_process, in its transaction):
# fn(*, message: email.message.EmailMessage, inbound: InboundEmail) -> a short label of what it recorded ("bounce",
# "activity", "reply"), or "" when the message meant nothing to it. Every function reads every message; each
# must be idempotent (a message is read again after a crash). Registered by pipeline (e-mail to and from leads
# as activities) and nurture (bounces, complaints, replies that end sequences).
INBOUND_EMAIL_RECEIVED: Final = "inbound_email_received"

# Domain events committed (salesmarketing.events.event_emit / events_emit, on commit): fn(*, event_ids: list[int])
# -> anything. Registered by integrations (webhooks and team chat fan them out); must not raise for a broker that
# is down (its sweeper dispatches what was missed).
DOMAIN_EVENTS_EMITTED: Final = "domain_events_emitted"

# Merging two leads (leads.merge.services.lead_merge, in its transaction, both rows locked, after leads' own rows
# moved): fn(*, survivor, merged, by) -> dict[str, int], the rows the app moved from `merged` onto `survivor` by
# kind (kept on the MergeRecord). Each app moves its own rows, keeping one where a unique constraint allows only
# one per lead. Registered by pipeline (deals, activities), nurture (segment lists, enrolments, send ledgers) and
# campaigns (attribution credits, rebuilt for the survivor).
LEAD_MERGING: Final = "lead_merging"
# Merging two companies (leads.merge.services.company_merge, likewise): fn(*, survivor, merged, by) ->
# dict[str, int]. Registered by pipeline (deals).
COMPANY_MERGING: Final = "company_merging"
# The board's cards (pipeline.selectors.pipeline_board): fn() -> a query expression giving a deal's number of line
# items (the deal as OuterRef("pk")), annotated as `item_count` on each card's deal in the cards' own query, so a
# card says "3 items" at no query per card; the deal page reads it with its deal (for DEAL_AMOUNT_DERIVED).
# Registered by quotes.
DEAL_ITEM_COUNT: Final = "deal_item_count"

HOOK_POINTS: Final = frozenset(
    {
        DOMAIN_EVENTS_EMITTED,
        HANDOFF_ACCEPTED,
        HANDOFF_ACCEPT_UNDONE,
        DEAL_AMOUNT_DERIVED,
        LEAD_ERASING,
        LEAD_EXPORTING,
        DEALS,
        SEARCH,
        LEAD_LIST_ACTIONS,
        LEAD_BULK_ACTIONS,
        SALES_TOUCH_RECORDED,
        EMAIL_TOUCHES_RECORDED,
        DEAL_PAGE_SECTIONS,
        DEAL_ITEM_COUNT,
        LEAD_PAGE_ACTIONS,
        LEAD_TIMELINE,
        HANDOFF_REJECTED,
        INBOUND_EMAIL_RECEIVED,
        LEAD_MERGING,
        COMPANY_MERGING,
    }
)

_registry: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOK_POINTS}


def _check(name: str) -> None:
    if name not in HOOK_POINTS:
        raise ValueError(f"unknown hook point {name!r}")


def register(name: str, fn: Callable[..., Any]) -> None:
    """Register `fn` at the hook point `name`. Registering the same function again changes nothing (an app's
    `ready()` may run more than once, e.g. in tests)."""
    _check(name)
    if fn not in _registry[name]:
        _registry[name].append(fn)


def registered(name: str) -> tuple[Callable[..., Any], ...]:
    """What is registered at `name`, in call order."""
    _check(name)
    return tuple(_registry[name])


def call(name: str, **kwargs: Any) -> list[Any]:
    """Call every function registered at `name` with these keyword arguments; their results, in order."""
    _check(name)
    return [fn(**kwargs) for fn in _registry[name]]
