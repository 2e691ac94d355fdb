"""The records: companies, leads, touches, and the campaigns and personas they point at, plus the models of the
work that lives in this app (scoring, handoffs, capture, privacy). One module per feature; every model is
re-exported here, so `from leads.models import Lead, Campaign` is the one way to import them."""

from leads.models.bulk_actions import BulkAction, BulkJob, SavedView
from leads.models.campaigns import Campaign, Persona
from leads.models.capture import FormEndpoint, ImportJob, new_site_key
from leads.models.companies import Company
from leads.models.custom_fields import CustomFieldType, CustomObject, FieldDefinition
from leads.models.handoffs import AssignmentLog, Handoff, TerritoryRule
from leads.models.leads import Lead, LeadQuerySet, Visitor
from leads.models.lifecycle import LifecycleChange
from leads.models.merge import DuplicateDismissal, MergeRecord, RecordKind
from leads.models.owners import OwnerChange
from leads.models.privacy import ErasureRecord
from leads.models.scoring import (
    RescoreBatch,
    RescoreRun,
    ScoringConfig,
    ScoringGroup,
    ScoringKind,
    ScoringRule,
)
from leads.models.touches import AwarenessRule, Touch

__all__ = [
    "AssignmentLog",
    "AwarenessRule",
    "BulkAction",
    "BulkJob",
    "Campaign",
    "Company",
    "CustomFieldType",
    "CustomObject",
    "DuplicateDismissal",
    "ErasureRecord",
    "FieldDefinition",
    "FormEndpoint",
    "Handoff",
    "ImportJob",
    "Lead",
    "LeadQuerySet",
    "LifecycleChange",
    "MergeRecord",
    "OwnerChange",
    "Persona",
    "RecordKind",
    "RescoreBatch",
    "RescoreRun",
    "SavedView",
    "ScoringConfig",
    "ScoringGroup",
    "ScoringKind",
    "ScoringRule",
    "TerritoryRule",
    "Touch",
    "Visitor",
    "new_site_key",
]
