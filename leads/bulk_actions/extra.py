"""Bulk actions the higher apps offer (salesmarketing.hooks.LEAD_BULK_ACTIONS): nurture's "add to a static list"
and "enrol in a sequence". Leads cannot import them (apps depend one way), so each comes as an ExtraAction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

from salesmarketing import hooks


@dataclass(frozen=True)
class ExtraAction:
    """One action of a higher app. `targets()` lists what the user picks ((id, label): the lists, the
    sequences); `check(target_id=…)` raises ValidationError when the target cannot take leads (asked before the
    job is queued); `apply(target_id=…, lead_ids=…, by=…)` adds one batch of leads the job's author sees and
    returns how many changed — set-based, and idempotent (a lead already there stays once)."""

    key: str  # a leads.models.BulkAction value
    label: str | Promise
    target_label: str | Promise
    targets: Callable[[], list[tuple[int, str]]]
    check: Callable[..., Any]
    apply: Callable[..., int]


def extra_actions(*, user: Any) -> list[ExtraAction]:
    return [action for found in hooks.call(hooks.LEAD_BULK_ACTIONS, user=user) for action in found]
