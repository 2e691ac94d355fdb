"""Event ingest: the one write path every capture channel goes through (API, web forms, tracking, CSV import).

`events_ingest(*, events, source, …)` validates each event on its own (one bad event never sinks the batch),
drops replays (the database's unique (source, idempotency key) decides), upserts the companies and leads the
events name, stitches visitors to leads, links UTM campaigns, stores the touches, sets `first_touch_campaign` and
the profile values the events bring, and schedules the worker (which scores the leads and sets `last_touch_at`)
— in a fixed number of set-based queries per batch, whatever its size.

- `schema`: the event (EventIn) and its validation, one event at a time.
- `store`: storing a validated batch; `lead_capture` for the single-lead API.
"""

from leads.ingest.schema import (
    MAX_EVENTS_PER_BATCH,
    Domain,
    Email,
    EventIn,
    Rejected,
    Text,
    events_validate,
    normalize_domain,
    prefecture_region,
    validation_errors,
)
from leads.ingest.store import IngestResult, events_ingest, lead_capture

__all__ = [
    "MAX_EVENTS_PER_BATCH",
    "Domain",
    "Email",
    "EventIn",
    "IngestResult",
    "Rejected",
    "Text",
    "events_ingest",
    "events_validate",
    "lead_capture",
    "normalize_domain",
    "prefecture_region",
    "validation_errors",
]
