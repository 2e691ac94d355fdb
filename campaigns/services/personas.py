"""Writes for personas and their matching rules. A changed rule matches every lead again, after commit, in
id-range batches that several workers share (campaigns.tasks)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import tasks
from campaigns.attribution import REBUILD_BATCH_SIZE
from campaigns.models import PersonaRule
from leads.models import Lead, Persona


def persona_save(*, persona: Persona) -> Persona:
    persona.full_clean()
    persona.save()
    return persona


def rule_save(*, rule: PersonaRule) -> PersonaRule:
    """Create or change a matching rule; every lead is matched again in the background."""
    rule.full_clean()
    if not rule.describe():
        raise ValidationError(_("Fill in at least one condition."))
    with transaction.atomic():
        rule.save()
        personas_rematch_all()
    return rule


def rule_delete(*, rule: PersonaRule) -> None:
    with transaction.atomic():
        PersonaRule.objects.filter(pk=rule.pk).delete()
        personas_rematch_all()


def personas_rematch_all() -> None:
    """After commit, match every lead again in id-range batches that several workers share."""
    transaction.on_commit(_enqueue_rematch, robust=True)


def _enqueue_rematch() -> None:
    bounds = Lead.objects.order_by("id").values_list("id", flat=True)
    first, last = bounds.first(), bounds.last()
    if first is None or last is None:
        return
    for start in range(first, last + 1, REBUILD_BATCH_SIZE):
        tasks.match_personas_range.delay(start, min(start + REBUILD_BATCH_SIZE - 1, last))
    tasks.refresh_rollups.delay()
