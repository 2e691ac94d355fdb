"""Nurture over the JSON API: segments, templates, broadcasts, enrolments (each feature adds its operations)."""

from ninja import Router

from nurture.segments.api import router as segments_router

router = Router(tags=["nurture"])

# --- segments (#18 point 8) ---
router.add_router("/", segments_router)
# --- end of segments ---
