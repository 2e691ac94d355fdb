"""A dynamic segment's rules: what a rule may say, how it is checked, and how it compiles into one SQL condition.

The rules are a tree stored on `Segment.rules`:

    {"op": "and", "rules": [
        {"field": "awareness", "op": "eq", "value": "semi"},
        {"field": "engagement_score", "op": "gte", "value": 20},
        {"field": "touch", "op": "exists", "type": "page_view", "campaign": 3, "days": 30},
        {"op": "or", "rules": [...]},          # a nested group (an AND of ORs, an OR of ANDs)
    ]}

Custom fields flagged "segment rule" are rule fields too: a lead's as `custom.<key>`, its company's as
`company.custom.<key>`, a deal's as `deal.custom.<key>` (the lead matches when a deal it is the contact of has a
matching value).

`validate` returns one error per bad rule with its location (`["rules", 2, "value"]`), so a page shows it next to
the rule and the API answers 422 with the same location. `compile_rules` turns a valid tree into one `Q` on Lead:
lead columns directly, company and owner columns through their to-one joins, and touches and deals as EXISTS
subqueries (never a join that multiplies the lead's rows), so a count is one `SELECT COUNT(*)` and no Python loop over leads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, Model, OuterRef, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, Industry, LeadSource, LifecycleStage, Region, TouchType
from leads.custom_fields.selectors import contains
from leads.models import CustomFieldType, CustomObject, FieldDefinition, Lead, Touch
from salesmarketing import hooks

MAX_DEPTH = 3  # the top group, a group in it, and one more: enough for an AND of ORs of ANDs
MAX_RULES = 50
MAX_DAYS = 3650
MAX_TEXT = 200

# Kinds of value a field takes; each kind allows its own operators.
CHOICE, INTEGER, BOOLEAN, RECORD, DAYS, TEXT, TOUCH = (
    "choice",
    "integer",
    "boolean",
    "record",
    "days",
    "text",
    "touch",
)
# The custom fields flagged "segment rule" (leads.custom_fields), one kind per type: the lead's as `custom.<key>`,
# its company's as `company.custom.<key>`, its deals' as `deal.custom.<key>`; each prefix with the JSON column it
# reads, from the lead (a deal's from the deal, in an EXISTS over the lead's deals).
CUSTOM_PREFIX = "custom."
COMPANY_CUSTOM_PREFIX = "company.custom."
DEAL_CUSTOM_PREFIX = "deal.custom."
CUSTOM_COLUMNS = {
    CUSTOM_PREFIX: "custom",
    COMPANY_CUSTOM_PREFIX: "company__custom",
    DEAL_CUSTOM_PREFIX: "custom",
}
CUSTOM_OBJECTS = {
    CustomObject.LEAD: CUSTOM_PREFIX,
    CustomObject.COMPANY: COMPANY_CUSTOM_PREFIX,
    CustomObject.DEAL: DEAL_CUSTOM_PREFIX,
}
CUSTOM_LABELS = {
    COMPANY_CUSTOM_PREFIX: _("Company: %(label)s"),
    DEAL_CUSTOM_PREFIX: _("Deal: %(label)s"),
}
C_TEXT, C_NUMBER, C_DATE, C_CHOICE, C_MULTI, C_BOOLEAN = (
    "custom_text",
    "custom_number",
    "custom_date",
    "custom_choice",
    "custom_multi_choice",
    "custom_boolean",
)

OPERATORS: dict[str, Promise] = {
    "eq": _("is"),
    "ne": _("is not"),
    "gte": _("at least"),
    "lte": _("at most"),
    "gt": _("more than"),
    "lt": _("less than"),
    "empty": _("is empty"),
    "not_empty": _("is not empty"),
    "within": _("within the last N days"),
    "not_within": _("not within the last N days"),
    "contains": _("contains"),
    "exists": _("has a touch"),
    "not_exists": _("has no touch"),
    "includes": _("includes"),
}
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    CHOICE: ("eq", "ne"),
    INTEGER: ("gte", "lte", "gt", "lt", "eq", "ne"),
    BOOLEAN: ("eq",),
    RECORD: ("eq", "ne", "empty", "not_empty"),
    DAYS: ("within", "not_within"),
    TEXT: ("contains",),
    TOUCH: ("exists", "not_exists"),
    C_TEXT: ("eq", "ne", "contains", "empty", "not_empty"),
    C_NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte", "empty", "not_empty"),
    C_DATE: ("eq", "gt", "gte", "lt", "lte", "empty", "not_empty"),
    C_CHOICE: ("eq", "ne", "empty", "not_empty"),
    C_MULTI: ("includes", "empty", "not_empty"),
    C_BOOLEAN: ("eq",),
}
NO_VALUE_OPS = frozenset({"empty", "not_empty", "exists", "not_exists"})


@dataclass(frozen=True)
class FieldSpec:
    label: Promise
    kind: str
    column: str  # the Lead lookup path ("" for touches)
    choices: tuple[tuple[str, Any], ...] = ()


FIELDS: dict[str, FieldSpec] = {
    "lifecycle": FieldSpec(_("Lifecycle stage"), CHOICE, "lifecycle_stage", tuple(LifecycleStage.choices)),
    "awareness": FieldSpec(_("Awareness stage"), CHOICE, "awareness_stage", tuple(AwarenessStage.choices)),
    "source": FieldSpec(_("Source"), CHOICE, "source", tuple(LeadSource.choices)),
    "persona": FieldSpec(_("Persona"), RECORD, "persona"),
    "fit_score": FieldSpec(_("Fit score"), INTEGER, "fit_score"),
    "engagement_score": FieldSpec(_("Engagement score"), INTEGER, "engagement_score"),
    "total_score": FieldSpec(_("Score"), INTEGER, "total_score"),
    "owner": FieldSpec(_("Owner"), RECORD, "owner"),
    "team": FieldSpec(_("Owner's team"), RECORD, "owner__team"),
    "first_campaign": FieldSpec(_("First-touch campaign"), RECORD, "first_touch_campaign"),
    "consent_email": FieldSpec(_("Consents to email"), BOOLEAN, "consent_email"),
    "emailable": FieldSpec(_("Emailable (consented, not unsubscribed)"), BOOLEAN, ""),
    "title": FieldSpec(_("Job title"), TEXT, "title"),
    "created": FieldSpec(_("Created"), DAYS, "created_at"),
    "last_touch": FieldSpec(_("Last touch"), DAYS, "last_touch_at"),
    "industry": FieldSpec(_("Company industry"), CHOICE, "company__industry", tuple(Industry.choices)),
    "region": FieldSpec(_("Company region"), CHOICE, "company__region", tuple(Region.choices)),
    "employee_count": FieldSpec(_("Company employees"), INTEGER, "company__employee_count"),
    "touch": FieldSpec(_("Touch"), TOUCH, ""),
}
CUSTOM_KINDS = {
    CustomFieldType.TEXT: C_TEXT,
    CustomFieldType.NUMBER: C_NUMBER,
    CustomFieldType.DATE: C_DATE,
    CustomFieldType.CHOICE: C_CHOICE,
    CustomFieldType.MULTI_CHOICE: C_MULTI,
    CustomFieldType.BOOLEAN: C_BOOLEAN,
}


def segment_fields() -> dict[str, FieldSpec]:
    """The fields a rule may use: the built-in ones, then the live custom fields flagged "segment rule" of leads,
    of their deals and of their companies (one query)."""
    definitions = FieldDefinition.objects.live().filter(in_segment=True, object_type__in=list(CUSTOM_OBJECTS))
    custom: dict[str, FieldSpec] = {}
    for d in definitions.order_by("-object_type", "position", "pk"):  # "lead", "deal", then "company"
        prefix = CUSTOM_OBJECTS[d.object_type]
        label = d.label if prefix == CUSTOM_PREFIX else str(CUSTOM_LABELS[prefix]) % {"label": d.label}
        custom[prefix + d.key] = FieldSpec(
            label,  # type: ignore[arg-type]
            CUSTOM_KINDS[d.field_type],
            f"{CUSTOM_COLUMNS[prefix]}__{d.key}",
            tuple((option, option) for option in d.options),
        )
    return {**FIELDS, **custom}


def is_custom(name: Any) -> bool:
    """Whether a rule's field is a custom field (of the lead, of its company or of its deals)."""
    return isinstance(name, str) and name.startswith(tuple(CUSTOM_COLUMNS))


def uses_custom(node: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH + 1:
        return False
    if is_group(node) and isinstance(node["rules"], list):
        return any(uses_custom(child, depth + 1) for child in node["rules"])
    return isinstance(node, Mapping) and is_custom(node.get("field"))


TOUCH_TYPES = dict(TouchType.choices)
TOUCH_KEYS = frozenset({"field", "op", "type", "campaign", "url", "days"})
RULE_KEYS = frozenset({"field", "op", "value"})
GROUP_KEYS = frozenset({"op", "rules"})


@dataclass(frozen=True)
class RuleError:
    loc: tuple[str | int, ...]
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": "value_error"}


def empty_rules() -> dict[str, Any]:
    return {"op": "and", "rules": []}


def is_group(node: Any) -> bool:
    return isinstance(node, Mapping) and "rules" in node


# --- Validation -----------------------------------------------------------------------------------------


def validate(
    tree: Any,
    *,
    records: Callable[[str, int], bool] | None = None,
    fields: Mapping[str, FieldSpec] | None = None,
) -> list[RuleError]:
    """Every error in the tree, each with its location. `records(model class, pk)` says whether a referenced record
    exists (default: one query per record rule, a handful at most). `fields`: what a rule may use (default: the
    built-in fields, and the custom ones when a rule names one: one query)."""
    errors: list[RuleError] = []
    if not is_group(tree):
        return [RuleError((), str(_('The rules must be a group: {"op": "and", "rules": […]}.')))]
    if _count_rules(tree) > MAX_RULES:  # before any lookup: a huge tree costs no query per rule
        return [RuleError(("rules",), str(_("At most %(n)d rules.") % {"n": MAX_RULES}))]
    if fields is None:
        fields = segment_fields() if uses_custom(tree) else FIELDS
    _validate_group(tree, (), 1, errors, records or _record_exists, fields)
    return errors


def _count_rules(node: Any, depth: int = 0) -> int:
    if depth <= MAX_DEPTH and is_group(node) and isinstance(node["rules"], list):
        return sum(_count_rules(child, depth + 1) for child in node["rules"])
    return 1


def _validate_group(
    group: Mapping, loc: tuple, depth: int, errors: list[RuleError], records, fields: Mapping[str, FieldSpec]
) -> None:
    extra = set(group) - GROUP_KEYS
    if extra:
        errors.append(RuleError(loc, str(_("Unknown keys: %(keys)s") % {"keys": ", ".join(sorted(extra))})))
    if group.get("op") not in ("and", "or"):
        errors.append(RuleError((*loc, "op"), str(_("A group combines its rules with “and” or “or”."))))
    rules = group.get("rules")
    if not isinstance(rules, list):
        errors.append(RuleError((*loc, "rules"), str(_("A group's rules must be a list."))))
        return
    for index, child in enumerate(rules):
        child_loc = (*loc, "rules", index)
        if is_group(child):
            if depth >= MAX_DEPTH:
                errors.append(
                    RuleError(child_loc, str(_("Groups nest at most %(n)d deep.") % {"n": MAX_DEPTH}))
                )
            else:
                _validate_group(child, child_loc, depth + 1, errors, records, fields)
        elif isinstance(child, Mapping):
            errors.extend(validate_rule(child, child_loc, records, fields))
        else:
            errors.append(RuleError(child_loc, str(_("A rule must be an object."))))


def validate_rule(
    rule: Mapping, loc: tuple, records=None, fields: Mapping[str, FieldSpec] | None = None
) -> list[RuleError]:
    """The errors of one rule (at most one per key), located under `loc`."""
    field = rule.get("field")
    spec = (fields if fields is not None else FIELDS).get(field) if isinstance(field, str) else None
    if spec is None:
        return [RuleError((*loc, "field"), str(_("Choose a field.")))]
    allowed_keys = TOUCH_KEYS if spec.kind == TOUCH else RULE_KEYS
    extra = set(rule) - allowed_keys
    if extra:
        return [RuleError(loc, str(_("Unknown keys: %(keys)s") % {"keys": ", ".join(sorted(extra))}))]
    op = rule.get("op")
    if op not in KIND_OPERATORS[spec.kind]:
        return [
            RuleError(
                (*loc, "op"), str(_("This condition does not apply to %(field)s.") % {"field": spec.label})
            )
        ]
    if spec.kind == TOUCH:
        return _validate_touch(rule, loc, records or _record_exists)
    if op in NO_VALUE_OPS:
        return []
    message = _value_error(spec, rule.get("value"), records or _record_exists)
    return [RuleError((*loc, "value"), message)] if message else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _custom_value_error(spec: FieldSpec, value: Any) -> str:
    """A custom field's value as the rule must hold it: as the field stores it (a number, a YYYY-MM-DD date …)."""
    if spec.kind in (C_CHOICE, C_MULTI):
        return (
            ""
            if value in {key for key, _label in spec.choices}
            else str(_("Choose one of the listed values."))
        )
    if spec.kind == C_NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 10**15
        return "" if ok else str(_("Enter a number."))
    if spec.kind == C_DATE:
        try:
            ok = isinstance(value, str) and dt.date.fromisoformat(value).isoformat() == value
        except ValueError:
            ok = False
        return "" if ok else str(_("Enter a date such as 2026-04-01."))
    if spec.kind == C_BOOLEAN:
        return "" if isinstance(value, bool) else str(_("Choose yes or no."))
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:  # C_TEXT
        return str(_("Enter some text (at most %(n)d characters).") % {"n": MAX_TEXT})
    return ""


def _value_error(spec: FieldSpec, value: Any, records) -> str:
    """The message for a bad value, or "" when it is good."""
    if spec.kind.startswith("custom_"):
        return _custom_value_error(spec, value)
    if spec.kind == CHOICE:
        return (
            ""
            if value in {key for key, _label in spec.choices}
            else str(_("Choose one of the listed values."))
        )
    if spec.kind == INTEGER:
        return "" if _is_int(value) and abs(value) < 10**9 else str(_("Enter a whole number."))
    if spec.kind == BOOLEAN:
        return "" if isinstance(value, bool) else str(_("Choose yes or no."))
    if spec.kind == DAYS:
        return _days_error(value)
    if spec.kind == TEXT:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            return str(_("Enter some text (at most %(n)d characters).") % {"n": MAX_TEXT})
        return ""
    # RECORD
    if not _is_int(value) or value <= 0:
        return str(_("Choose a record."))
    return "" if records(related_model(Lead, spec.column), value) else str(_("This record does not exist."))


def _days_error(value: Any) -> str:
    if _is_int(value) and 1 <= value <= MAX_DAYS:
        return ""
    return str(_("Enter a number of days from 1 to %(n)d.") % {"n": MAX_DAYS})


def _validate_touch(rule: Mapping, loc: tuple, records) -> list[RuleError]:
    errors = []
    touch_type = rule.get("type")
    if touch_type not in (None, "") and not (isinstance(touch_type, str) and touch_type in TOUCH_TYPES):
        errors.append(RuleError((*loc, "type"), str(_("Choose one of the listed touch types."))))
    campaign = rule.get("campaign")
    if campaign is not None and (
        not _is_int(campaign) or not records(related_model(Touch, "campaign"), campaign)
    ):
        errors.append(RuleError((*loc, "campaign"), str(_("This campaign does not exist."))))
    url = rule.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_TEXT):
        errors.append(RuleError((*loc, "url"), str(_("Enter at most %(n)d characters.") % {"n": MAX_TEXT})))
    message = _days_error(rule.get("days"))
    if message:
        errors.append(RuleError((*loc, "days"), message))
    return errors


def related_model(model: type[Model], path: str) -> type[Model]:
    """The model a lookup path ("owner__team") reaches from `model`, read from the fields themselves: personas and
    campaigns live in an app beside nurture, which reaches them only through the leads' foreign keys."""
    for name in path.split("__"):
        model = model._meta.get_field(name).related_model  # type: ignore[assignment]
    return model


def _record_exists(model: type[Model], pk: int) -> bool:
    return model._default_manager.filter(pk=pk).exists()


# --- Compiling --------------------------------------------------------------------------------------------


def compile_rules(tree: Mapping, *, now: dt.datetime | None = None) -> Q:
    """One condition on Lead for a valid tree (check it with `validate` first). An empty group matches every lead
    for "and" and none for "or", as in logic."""
    return _compile_group(tree, now or timezone.now())


def _compile_group(group: Mapping, now: dt.datetime) -> Q:
    parts = [
        _compile_group(child, now) if is_group(child) else _compile_rule(child, now)
        for child in group["rules"]
    ]
    if not parts:
        # Not Q(): an empty Q vanishes when combined ("x OR (empty AND)" would become "x", not "everything").
        return Q(pk__isnull=False) if group["op"] == "and" else Q(pk__in=[])
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if group["op"] == "and" else combined | part
    return combined


_COMPARISONS = {"eq": "exact", "gte": "gte", "lte": "lte", "gt": "gt", "lt": "lt"}


def _compile_custom(rule: Mapping) -> Q:
    """A custom field's rule on the lead's (or its company's) `custom` column: equality and "includes" as
    `custom @> {…}` (the GIN index), comparisons on the JSON value (numbers by value, ISO dates in order),
    "contains" on the text. A lead without a company has every company field empty. A deal's field: the lead
    has a deal (as its contact) for which the rule holds, one EXISTS; a lead without deals matches none."""
    prefix = next(p for p in CUSTOM_COLUMNS if rule["field"].startswith(p))
    column, key = CUSTOM_COLUMNS[prefix], rule["field"].removeprefix(prefix)
    condition = _custom_condition(column, key, rule["op"], rule.get("value"))
    if prefix != DEAL_CUSTOM_PREFIX:
        return condition
    # pipeline sits beside nurture, so its deals come through the DEALS hook (salesmarketing.hooks).
    matching = [
        Exists(deals.filter(condition, contact=OuterRef("pk")).order_by().values("pk")) for deals in _deals()
    ]
    return Q(*matching, _connector=Q.OR) if matching else Q(pk__in=[])


def _deals() -> list[Any]:
    return list(hooks.call(hooks.DEALS))


def _custom_condition(column: str, key: str, op: str, value: Any) -> Q:
    """The condition on a record's JSON `column` (a lookup path) for a custom field's rule."""
    has_value = Q(**{f"{column}__has_key": key})  # an empty value is never stored: its key goes
    if op == "empty":
        return ~has_value
    if op == "not_empty":
        return has_value
    if op == "eq":
        return contains(key, value, column)
    if op == "ne":  # "is not X" keeps those with no value (SQLite's JSON NULL <> X would drop them)
        return ~contains(key, value, column) | ~has_value
    if op == "includes":
        return contains(key, [value], column)
    if op == "contains":
        return Q(**{f"{column}__{key}__icontains": value.strip()})
    return Q(**{f"{column}__{key}__{_COMPARISONS[op]}": value})


def _compile_rule(rule: Mapping, now: dt.datetime) -> Q:
    if is_custom(rule["field"]):
        return _compile_custom(rule)
    spec = FIELDS[rule["field"]]
    op, value = rule["op"], rule.get("value")
    if spec.kind == TOUCH:
        condition = Exists(_touches(rule, now))
        return Q(condition) if op == "exists" else ~Q(condition)
    if rule["field"] == "emailable":
        emailable = Q(consent_email=True, unsubscribed_at__isnull=True)
        return emailable if value else ~emailable
    if op == "empty":
        return Q(**{f"{spec.column}__isnull": True})
    if op == "not_empty":
        return Q(**{f"{spec.column}__isnull": False})
    if op in ("within", "not_within"):
        recent = Q(**{f"{spec.column}__gte": now - dt.timedelta(days=value)})
        return recent if op == "within" else ~recent
    if op == "contains":
        return Q(**{f"{spec.column}__icontains": value.strip()})
    column = f"{spec.column}_id" if spec.kind == RECORD and "__" not in spec.column else spec.column
    if op == "ne":
        # "is not X" keeps the leads with no value at all (no company, no owner): SQL's NULL <> X would drop them.
        return ~Q(**{column: value}) | Q(**{f"{column}__isnull": True})
    return Q(**{f"{column}__{_COMPARISONS[op]}": value})


def _touches(rule: Mapping, now: dt.datetime):
    touches = Touch.objects.filter(
        lead=OuterRef("pk"), occurred_at__gte=now - dt.timedelta(days=rule["days"])
    )
    if rule.get("type"):
        touches = touches.filter(type=rule["type"])
    if rule.get("campaign") is not None:
        touches = touches.filter(campaign_id=rule["campaign"])
    if rule.get("url"):
        touches = touches.filter(url__contains=rule["url"])
    return touches.order_by().values("pk")
