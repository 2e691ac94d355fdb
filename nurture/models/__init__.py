"""Nurture's models, one module per feature: `segments` (who), `mail` (what is sent, and the send ledger),
`sequences` (step emails), `delivery` (what happened after the send: bounces, complaints)."""

from nurture.models.delivery import *  # noqa: F403
from nurture.models.mail import *  # noqa: F403
from nurture.models.segments import *  # noqa: F403
from nurture.models.sequences import *  # noqa: F403
