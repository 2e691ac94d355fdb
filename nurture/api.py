"""Nurture over the JSON API: segments, templates, broadcasts, enrolments (each feature adds its operations)."""

from ninja import Router

router = Router(tags=["nurture"])
