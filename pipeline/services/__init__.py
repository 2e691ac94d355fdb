"""Writes for pipelines, deals, activities and tasks (a package: pipelines, positions, deals, activities).

Every function is keyword-only and atomic, writes its audit row (StageChange for every stage change, including
a deal's creation and its closing) and schedules notifications with `transaction.on_commit`.
Business-rule violations raise `django.core.exceptions.ValidationError` keyed by field, so forms show the message
next to the field and the API answers 422.
"""

from pipeline.services.activities import activity_log, task_complete, task_create
from pipeline.services.deals import (
    Closing,
    DealChangedError,
    StageChangeInvalid,
    amount_derived_reason,
    check_no_flip,
    deal_change_stage,
    deal_check_close,
    deal_close_lost,
    deal_close_won,
    deal_company_resolve,
    deal_create,
    deal_create_from_handoff,
    deal_discard_for_undone_handoff,
    deal_edit,
    deal_move_to_stage,
    deal_update,
)
from pipeline.services.pipelines import (
    DEFAULT_PIPELINE_NAME,
    DEFAULT_STAGES,
    StageSpec,
    pipeline_create,
    pipeline_ensure_default,
)
from pipeline.services.positions import GAP, column_index, drop_index

__all__ = [
    "DEFAULT_PIPELINE_NAME",
    "DEFAULT_STAGES",
    "GAP",
    "Closing",
    "DealChangedError",
    "StageChangeInvalid",
    "StageSpec",
    "activity_log",
    "amount_derived_reason",
    "check_no_flip",
    "column_index",
    "deal_change_stage",
    "deal_check_close",
    "deal_close_lost",
    "deal_close_won",
    "deal_company_resolve",
    "deal_create",
    "deal_create_from_handoff",
    "deal_discard_for_undone_handoff",
    "deal_edit",
    "deal_move_to_stage",
    "deal_update",
    "drop_index",
    "pipeline_create",
    "pipeline_ensure_default",
    "task_complete",
    "task_create",
]
