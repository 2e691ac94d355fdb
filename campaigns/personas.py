"""Matching leads to personas with editable rules (PersonaRule), set-based, and setting a persona by hand.

All active rules become one SQL CASE (lowest priority number first), applied to a batch of leads in one UPDATE;
only leads whose persona actually changes are written. Leads whose persona was set by hand are skipped.
"""

from __future__ import annotations

import operator
from functools import reduce

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When

from campaigns.attribution import LeadSelection, days_mark_dirty
from campaigns.models import AttributionCredit, PersonaRule
from leads.models import Company, Lead, Persona

UPDATE_CHUNK = 10_000  # leads per UPDATE: one parameter per id, and PostgreSQL takes at most 65,535


def rule_condition(rule: PersonaRule) -> Q:
    """The rule as a condition on Lead that needs no join (company conditions become `company_id IN (…)`)."""
    condition = Q()
    for field, text in (("title", rule.title_contains), ("department", rule.department_contains)):
        words = PersonaRule.words(text)
        if words:
            condition &= reduce(operator.or_, (Q(**{f"{field}__icontains": w}) for w in words))
    company: dict = {}
    if rule.industry:
        company["industry"] = rule.industry
    if rule.region:
        company["region"] = rule.region
    if rule.employees_min is not None:
        company["employee_count__gte"] = rule.employees_min
    if rule.employees_max is not None:
        company["employee_count__lte"] = rule.employees_max
    if company:
        condition &= Q(company_id__in=Company.objects.filter(**company).values("pk"))
    return condition


def persona_expression():
    """The persona each lead should have under the active rules (NULL when none matches)."""
    rules = list(PersonaRule.objects.filter(is_active=True).order_by("priority", "id"))
    if not rules:
        return Value(None, output_field=BigIntegerField())
    return Case(
        *[When(rule_condition(rule), then=Value(rule.persona_id)) for rule in rules],
        default=Value(None),
        output_field=BigIntegerField(),
    )


def personas_match(*, selection: LeadSelection) -> int:
    """Give these leads the persona their rules say (skipping hand-set ones). Returns how many changed.

    The days of the changed leads' conversions are marked dirty, so the persona mix is recomputed."""
    if selection.empty:
        return 0
    target = persona_expression()
    with transaction.atomic():
        candidates = Lead.objects.filter(selection.q("id"), persona_set_by_hand=False).annotate(
            _target=target
        )
        changed = list(
            candidates.filter(
                Q(persona__isnull=True, _target__isnull=False)
                | Q(persona__isnull=False, _target__isnull=True)
                | (Q(persona__isnull=False, _target__isnull=False) & ~Q(persona_id=F("_target")))
            )
            .order_by()
            .values_list("id", flat=True)
        )
        if not changed:
            return 0
        for i in range(0, len(changed), UPDATE_CHUNK):  # a rule change may move most of a million leads
            chunk = changed[i : i + UPDATE_CHUNK]
            Lead.objects.filter(id__in=chunk).update(persona_id=target)
            days_mark_dirty(
                AttributionCredit.objects.filter(lead_id__in=chunk).values_list("date", flat=True).distinct()
            )
    return len(changed)


def lead_persona_set(*, lead: Lead, persona: Persona | None) -> Lead:
    """A marketer decides: this lead is `persona` (kept through rule changes). `None` hands the lead back to the
    rules, which match it again at once."""
    with transaction.atomic():
        if persona is None:
            Lead.objects.filter(pk=lead.pk).update(persona_set_by_hand=False)
            personas_match(selection=LeadSelection(ids=(lead.pk,)))
        else:
            Lead.objects.filter(pk=lead.pk).update(persona=persona, persona_set_by_hand=True)
            days_mark_dirty(
                AttributionCredit.objects.filter(lead_id=lead.pk).values_list("date", flat=True).distinct()
            )
    lead.refresh_from_db(fields=["persona", "persona_set_by_hand"])
    return lead
