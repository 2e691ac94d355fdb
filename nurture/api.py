"""Nurture over the JSON API: segments, templates, broadcasts, enrolments (each feature adds its operations)."""

from ninja import Router

from nurture.mail.api import router as mail_router
from nurture.segments.api import router as segments_router
from nurture.sequences.api import router as sequences_router

router = Router(tags=["nurture"])

# --- segments (#18 point 8) ---
router.add_router("/", segments_router)
# --- end of segments ---

# --- sequences (#18 point 8: enrolments) ---
router.add_router("/", sequences_router)
# --- end of sequences ---

# --- email templates and broadcasts (#18 point 8) ---
router.add_router("/", mail_router)
# --- end of email ---
