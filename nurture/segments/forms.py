"""The segment form and its rule builder: groups of rule rows posted as flat fields, turned into a rule tree.

A page posts `top_op`, `g-<g>-op` per group and `r-<g>-<i>-<key>` per rule (key: field, op, value, type, campaign,
url, days). The builder keeps what was typed (strings), converts it to the typed tree the rules module checks, and
places each error of that check back on its row. Buttons post `action`: add_rule:<g>, remove_rule:<g>:<i>,
add_group, remove_group:<g>, refresh (the field of a row changed), save.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from leads.choices import TouchType
from leads.models import Lead, Touch
from nurture.models import SegmentKind
from nurture.segments.rules import (
    BOOLEAN,
    C_BOOLEAN,
    C_DATE,
    C_NUMBER,
    DAYS,
    FIELDS,
    INTEGER,
    KIND_OPERATORS,
    NO_VALUE_OPS,
    OPERATORS,
    RECORD,
    TOUCH,
    FieldSpec,
    RuleError,
    is_custom,
    is_group,
    related_model,
    segment_fields,
    uses_custom,
)
from salesmarketing.models import Team, User

MAX_GROUPS = 10
MAX_ROWS = 20
_RULE_KEY = re.compile(r"^r-(\d{1,2})-(\d{1,2})-(field|prev|op|value|type|campaign|url|days)$")
_GROUP_KEY = re.compile(r"^g-(\d{1,2})-op$")
TOUCH_INPUTS = ("type", "campaign", "url", "days")


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=SegmentKind.choices, initial=SegmentKind.DYNAMIC)


def _new_row() -> dict[str, str]:
    return {"field": "awareness", "op": "eq", "value": ""}


@dataclass
class Row:
    data: dict[str, str]
    error: str = ""
    fields: dict[str, FieldSpec] = field(
        default_factory=lambda: FIELDS
    )  # with the custom fields: the builder's

    @property
    def spec(self):
        return self.fields.get(self.data.get("field", ""))

    @property
    def operators(self) -> list[tuple[str, Any]]:
        spec = self.spec
        return [(op, OPERATORS[op]) for op in KIND_OPERATORS[spec.kind]] if spec else []

    @property
    def needs_value(self) -> bool:
        return self.spec is not None and self.spec.kind != TOUCH and self.data.get("op") not in NO_VALUE_OPS

    def value_choices(self, options: BuilderOptions) -> list[tuple[str, Any]]:
        """The choices of the value's select ([] for a typed value)."""
        spec = self.spec
        if spec is None:
            return []
        if spec.kind in (BOOLEAN, C_BOOLEAN):
            return [("true", _("Yes")), ("false", _("No"))]
        if spec.kind == RECORD:
            return options.records.get(self.data.get("field", ""), [])
        return [(str(key), label) for key, label in spec.choices]


@dataclass
class Group:
    op: str = "and"
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class RowView:
    """A row as the template shows it, with its position and the choices its inputs offer."""

    g: int
    i: int
    row: Row
    value_choices: list[tuple[str, Any]]
    input_type: str  # "number", "date" or "text" for a typed value

    @property
    def key(self) -> str:
        return f"{self.g}-{self.i}"


@dataclass
class RuleBuilder:
    op: str = "and"
    groups: list[Group] = field(default_factory=list)
    general_errors: list[str] = field(default_factory=list)
    # What a rule may use: the built-in fields and the custom ones flagged "segment rule" (rules.segment_fields)
    fields: dict[str, FieldSpec] = field(default_factory=lambda: FIELDS)

    # --- from a request / from a stored tree ---

    @classmethod
    def from_post(cls, data: QueryDict, fields: dict[str, FieldSpec] | None = None) -> RuleBuilder:
        rows: dict[tuple[int, int], dict[str, str]] = {}
        group_ops: dict[int, str] = {}
        for key, value in data.items():
            if match := _RULE_KEY.match(key):
                rows.setdefault((int(match[1]), int(match[2])), {})[match[3]] = value.strip()
            elif match := _GROUP_KEY.match(key):
                group_ops[int(match[1])] = value
        groups: dict[int, Group] = {g: Group(op=_op(op)) for g, op in sorted(group_ops.items())[:MAX_GROUPS]}
        if fields is None:  # the custom fields are read only when a row names one
            fields = segment_fields() if any(is_custom(row.get("field")) for row in rows.values()) else FIELDS
        for (g, _i), row in sorted(rows.items()):
            if g in groups and len(groups[g].rows) < MAX_ROWS:
                groups[g].rows.append(Row(row, fields=fields))
        return cls(op=_op(data.get("top_op", "and")), groups=list(groups.values()), fields=fields)

    @classmethod
    def from_tree(cls, tree: dict, fields: dict[str, FieldSpec] | None = None) -> RuleBuilder:
        """The builder for a stored tree: each top-level group a group of rows, a lone rule a group of one.
        Deeper groups (possible through the API) cannot be shown as rows; they stay as they are unless replaced."""
        if fields is None:
            fields = segment_fields() if uses_custom(tree) else FIELDS
        builder = cls(op=_op(tree.get("op", "and")), fields=fields)
        for child in tree.get("rules", []):
            if is_group(child):
                if any(is_group(grandchild) for grandchild in child["rules"]):
                    builder.general_errors.append(str(_("Some rules nest deeper than this page can show.")))
                    continue
                builder.groups.append(
                    Group(
                        op=_op(child["op"]), rows=[Row(_raw(rule), fields=fields) for rule in child["rules"]]
                    )
                )
            else:
                builder.groups.append(Group(op="and", rows=[Row(_raw(child), fields=fields)]))
        return builder

    # --- editing ---

    def apply(self, action: str) -> None:
        """Add or remove a row or group as a button asked; unknown or stale actions change nothing."""
        name, *args = action.split(":")
        numbers = [int(arg) for arg in args if arg.isdigit()]
        if name == "add_group" and len(self.groups) < MAX_GROUPS:
            self.groups.append(Group(rows=[Row(_new_row(), fields=self.fields)]))
        elif name == "remove_group" and len(numbers) == 1 and numbers[0] < len(self.groups):
            del self.groups[numbers[0]]
        elif name == "add_rule" and len(numbers) == 1 and numbers[0] < len(self.groups):
            rows = self.groups[numbers[0]].rows
            if len(rows) < MAX_ROWS:
                rows.append(Row(_new_row(), fields=self.fields))
        elif name == "remove_rule" and len(numbers) == 2 and numbers[0] < len(self.groups):
            rows = self.groups[numbers[0]].rows
            if numbers[1] < len(rows):
                del rows[numbers[1]]
        self._fit_operators()

    def _fit_operators(self) -> None:
        """A row whose field changed (its `prev` field, rendered with it, differs) starts over with that field's
        first condition and no value; any row keeps an operator only if its field allows it."""
        for group in self.groups:
            for row in group.rows:
                spec = row.spec
                if spec is None:
                    continue
                if row.data.get("prev", row.data.get("field")) != row.data.get("field"):
                    row.data = {"field": row.data["field"], "op": KIND_OPERATORS[spec.kind][0]}
                if row.data.get("op") not in KIND_OPERATORS[spec.kind]:
                    row.data["op"] = KIND_OPERATORS[spec.kind][0]

    def views(self, options: BuilderOptions) -> list[tuple[int, Group, list[RowView]]]:
        return [
            (
                g,
                group,
                [
                    RowView(g, i, row, row.value_choices(options), _input_type(row))
                    for i, row in enumerate(group.rows)
                ],
            )
            for g, group in enumerate(self.groups)
        ]

    # --- to the tree, and errors back onto rows ---

    def tree(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "rules": [
                {"op": group.op, "rules": [_typed(row.data, self.fields) for row in group.rows]}
                for group in self.groups
            ],
        }

    def place_errors(self, errors: list[RuleError]) -> None:
        for group in self.groups:
            for row in group.rows:
                row.error = ""
        for error in errors:
            row = self._row_at(error.loc)
            if row is None:
                self.general_errors.append(error.msg)
            elif not row.error:
                row.error = error.msg

    def _row_at(self, loc: tuple) -> Row | None:
        if len(loc) >= 4 and loc[0] == "rules" and loc[2] == "rules":
            g, i = loc[1], loc[3]
            if (
                isinstance(g, int)
                and isinstance(i, int)
                and g < len(self.groups)
                and i < len(self.groups[g].rows)
            ):
                return self.groups[g].rows[i]
        return None


def _input_type(row: Row) -> str:
    spec = row.spec
    if spec is not None and spec.kind == C_DATE:
        return "date"
    return "number" if spec is not None and spec.kind in (INTEGER, DAYS, C_NUMBER) else "text"


def _op(value: Any) -> str:
    return "or" if value == "or" else "and"


def _int_or_raw(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def _number_or_raw(value: str) -> Any:
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def _typed(data: dict[str, str], fields: dict[str, FieldSpec] = FIELDS) -> dict[str, Any]:
    """A row's strings as the tree holds them: numbers as numbers, yes/no as booleans; a value that does not
    convert stays a string, so the check reports it next to the row."""
    spec = fields.get(data.get("field", ""))
    rule: dict[str, Any] = {"field": data.get("field", ""), "op": data.get("op", "")}
    if spec is None:
        return rule
    if spec.kind == TOUCH:
        if data.get("type"):
            rule["type"] = data["type"]
        if data.get("campaign"):
            rule["campaign"] = _int_or_raw(data["campaign"])
        if data.get("url"):
            rule["url"] = data["url"]
        rule["days"] = _int_or_raw(data.get("days", ""))
        return rule
    if rule["op"] in NO_VALUE_OPS:
        return rule
    value = data.get("value", "")
    if spec.kind in (INTEGER, DAYS, RECORD):
        rule["value"] = _int_or_raw(value)
    elif spec.kind == C_NUMBER:
        rule["value"] = _number_or_raw(value)
    elif spec.kind in (BOOLEAN, C_BOOLEAN):
        rule["value"] = {"true": True, "false": False}.get(value, value)
    else:
        rule["value"] = value
    return rule


def _raw(rule: dict[str, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return {key: text(value) for key, value in rule.items()}


@dataclass(frozen=True)
class BuilderOptions:
    """The choices a rule row offers for record fields and touches (one query each, when the page renders)."""

    records: dict[str, list[tuple[str, str]]]
    touch_types: list[tuple[str, Any]]
    fields: list[tuple[str, Any]]


def builder_options(fields: dict[str, FieldSpec] | None = None) -> BuilderOptions:
    persona = related_model(Lead, "persona")
    campaign = related_model(Touch, "campaign")
    campaigns = [
        (str(pk), name) for pk, name in campaign._default_manager.order_by("name").values_list("pk", "name")
    ]
    return BuilderOptions(
        records={
            "persona": [
                (str(pk), name)
                for pk, name in persona._default_manager.order_by("name").values_list("pk", "name")
            ],
            "owner": [
                (str(user.pk), str(user))
                for user in User.objects.filter(is_active=True).order_by("display_name", "username")
            ],
            "team": [(str(pk), name) for pk, name in Team.objects.order_by("name").values_list("pk", "name")],
            "first_campaign": campaigns,
            "touch_campaign": campaigns,
        },
        touch_types=list(TouchType.choices),
        fields=[(name, spec.label) for name, spec in (FIELDS if fields is None else fields).items()],
    )
