"""Attribution: which campaigns get the credit for leads, MQLs, accepted handoffs, deals and won revenue.

Computed in SQL by Celery workers and stored; pages only read the stored roll-ups.

What is credited (a *conversion*) and when:
- lead: the lead's creation (its day: `created_at`);
- MQL: the lead's latest MQL (`mql_at`);
- accepted by sales: each accepted handoff (its day: `decided_at`; journey up to its `mql_at`);
- deal: each deal whose contact is the lead (its day: the deal's `created_at`);
- won revenue: each won deal, weighted by its won amount (journey up to the deal's creation; its day: `closed_at`).

A conversion's *journey* is the lead's touches that carry a campaign, up to the conversion (for deals: up to
the deal's creation), in time order. Touches without a campaign (organic visits, newsletters without UTM codes,
sales activities) are left out before positions are chosen; a conversion with no campaign touch at all gives its
whole credit to "no campaign" (campaign NULL), so each model's credits always add up to the number of
conversions. The *lead-creation touch* is the last journey touch at or before the lead's creation (plus a grace
of five minutes for the event that created it, which may be stamped a moment later).

The three models, side by side:
- first touch: 100 % to the first journey touch;
- last touch: 100 % to the last journey touch (for deals: the last touch before the deal was created);
- W-shaped: 30 % to the first touch, 30 % to the lead-creation touch, 30 % to the last touch (the conversion
  touch), and 10 % spread evenly over the touches in between.

Edge cases of the W-shape (weights that fall on one touch add up; missing parts are left out and the rest is
scaled to 100 %):
- 1 touch: it gets 100 %.
- 2 touches: no touch lies in between, so the 10 % goes with the rest: the touch that is both first touch and
  lead-creation touch gets 60/90 = ⅔, the last touch ⅓ (a lead's own credit: first ⅓, lead creation = last ⅔).
- lead credit: the conversion *is* the lead's creation, so the lead-creation and last touch coincide
  (30 % first, 60 % last, 10 % between).
- no touch before the lead's creation (a lead entered by hand, touched by campaigns later): there is no
  lead-creation touch; first and last share 50/50 (plus the 10 % between, i.e. 3/7 · 3/7 · 1/7).
- several touches of one campaign: their credits add up on that campaign.

Freshness: a sweep (beat, every few minutes) finds leads whose touches, profile, MQL, handoffs or deals changed
since it last looked and recomputes their credits (`attribution_refresh`), marking the days concerned dirty; the
daily roll-ups (`AttributionDay`, `SegmentDay`) are recomputed for dirty days only, and the monthly one
(`AttributionMonth`) for their months from their days, in the same transaction. A full rebuild runs daily.
Every step deletes and re-inserts what it owns, so running it twice changes nothing. The full rebuild in one
process (persona matching too) is campaigns.rebuild.attribution_rebuild_now.
"""

from campaigns.attribution.ledger import attribution_refresh, days_mark_dirty
from campaigns.attribution.rollups import rollups_refresh, score_bands_refresh
from campaigns.attribution.sql import (
    KIND_COLUMNS,
    MODELS,
    REBUILD_BATCH_SIZE,
    REFRESH_BATCH_SIZE,
    LeadSelection,
)
from campaigns.attribution.sweep import (
    SweepResult,
    attribution_sweep,
    rebuild_ranges,
)

__all__ = [
    "KIND_COLUMNS",
    "MODELS",
    "REBUILD_BATCH_SIZE",
    "REFRESH_BATCH_SIZE",
    "LeadSelection",
    "SweepResult",
    "attribution_refresh",
    "attribution_sweep",
    "days_mark_dirty",
    "rebuild_ranges",
    "rollups_refresh",
    "score_bands_refresh",
]
