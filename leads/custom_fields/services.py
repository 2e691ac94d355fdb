"""Writes of custom fields: an admin's definitions, and the checks every path that writes values goes through.

`custom_values_clean` is the one place a value is judged by its type: the record forms, the CSV import, the capture
form, the API and the deal form all call it, and it answers with one message per field, keyed `custom.<key>`
(the form field's name; the API's location `["body", "custom", key]`)."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Company, CustomFieldType, CustomObject, FieldDefinition, Lead
from leads.models.custom_fields import KEY_PATTERN, PLACES
from salesmarketing import hooks

MAX_TEXT = 2000
MAX_OPTIONS = 100
MAX_OPTION_CHARS = 100
NUMBER_LIMIT = 10**15  # beyond this a JSON number loses digits in JavaScript clients
_TRUE = frozenset("1 true yes y on はい 可 有 あり 同意 希望 ○ ◯ 〇 ✓".split())
_FALSE = frozenset("0 false no n off いいえ 不可 無 なし 不要 × ✕".split())
_DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_SEPARATORS = re.compile(r"\s*[;；,，、|]\s*")
DEFINITION_FIELDS = (
    "label_ja",
    "label_en",
    "field_type",
    "options",
    "required",
    "position",
    *(name for name, _label in PLACES),
)


def field_name(key: str) -> str:
    """The form field's name and the error key of a custom value (`custom.budget`)."""
    return f"custom.{key}"


# --- Values -----------------------------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def custom_value_clean(definition: FieldDefinition, raw: Any) -> Any:
    """The value as stored (str, int/float, "YYYY-MM-DD", list of options, bool), or None for empty. Accepts what
    JSON sends and what a form or a CSV cell holds (text); raises ValidationError with a message for a person."""
    if is_empty(raw):
        return None
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        return _text(raw)
    if kind == CustomFieldType.NUMBER:
        return _number(raw)
    if kind == CustomFieldType.DATE:
        return _date(raw)
    if kind == CustomFieldType.CHOICE:
        return _option(definition, raw)
    if kind == CustomFieldType.MULTI_CHOICE:
        return _options(definition, raw)
    return _boolean(raw)


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError(_("Enter text."))
    value = raw.strip()
    if "\x00" in value:
        raise ValidationError(_("Must not contain NUL characters."))
    if len(value) > MAX_TEXT:
        raise ValidationError(_("Ensure this value has at most %(n)s characters.") % {"n": MAX_TEXT})
    return value


def _number(raw: Any) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValidationError(_("Enter a number."))
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip().replace(",", "")
        try:
            raw = Decimal(text)
        except InvalidOperation:
            raise ValidationError(_("Enter a number.")) from None
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValidationError(_("Enter a number."))
        if abs(raw) >= NUMBER_LIMIT:  # before converting: "1e999999" would make a million-digit int
            raise ValidationError(_("Enter a number below %(n)s.") % {"n": f"{NUMBER_LIMIT:,}"})
        raw = int(raw) if raw == raw.to_integral_value() else float(raw)
    if isinstance(raw, float) and (not math.isfinite(raw) or raw.is_integer()):
        if not math.isfinite(raw):
            raise ValidationError(_("Enter a number."))
        raw = int(raw)
    if abs(raw) >= NUMBER_LIMIT:
        raise ValidationError(_("Enter a number below %(n)s.") % {"n": f"{NUMBER_LIMIT:,}"})
    return raw


def _date(raw: Any) -> str:
    if isinstance(raw, dt.datetime):
        raw = timezone.localdate(raw) if timezone.is_aware(raw) else raw.date()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise ValidationError(_("Enter a date such as 2026-04-01."))
    match = _DATE_RE.match(unicodedata.normalize("NFKC", raw))
    try:
        if match is None:
            raise ValueError
        return dt.date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        raise ValidationError(_("Enter a date such as 2026-04-01.")) from None


def _option(definition: FieldDefinition, raw: Any) -> str:
    if not isinstance(raw, str) or raw.strip() not in definition.options:
        raise ValidationError(_("Choose one of: %(options)s.") % {"options": " / ".join(definition.options)})
    return raw.strip()


def _options(definition: FieldDefinition, raw: Any) -> list[str]:
    items = [part for part in _SEPARATORS.split(raw.strip()) if part] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValidationError(_("Give a list of options."))
    unknown = [item for item in items if item.strip() not in definition.options]
    if unknown:
        raise ValidationError(
            _("Not an option: %(values)s. Choose from: %(options)s.")
            % {"values": ", ".join(unknown), "options": " / ".join(definition.options)}
        )
    chosen = {item.strip() for item in items}
    return [option for option in definition.options if option in chosen]  # the definition's order, once each


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValidationError(_("Enter yes or no."))


def custom_values_check(
    by_key: Mapping[str, FieldDefinition], values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each of `values` (key → raw value) checked by its definition in `by_key`: the stored values (None for an
    empty one) and the errors, keyed `custom.<key>` (a key no definition has is one)."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, raw in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[field_name(key)] = [_("No custom field has this key.")]
            continue
        try:
            cleaned[key] = custom_value_clean(definition, raw)
        except ValidationError as error:
            errors[field_name(key)] = error.messages
    return cleaned, errors


def custom_values_clean(
    *,
    definitions: Iterable[FieldDefinition],
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    check_required: bool = True,
) -> dict[str, Any]:
    """The record's new `custom` dict: `current` with `values` (key → raw value) applied, an empty value removing
    its key. `definitions` are those the caller offers (the form's, the API's): a key outside them is refused, and
    with `check_required` each required one must end up with a value. Values of other keys (archived fields,
    fields the caller does not show) are kept as they are. Raises ValidationError keyed `custom.<key>`."""
    by_key = {d.key: d for d in definitions}
    result = dict(current or {})
    cleaned, errors = custom_values_check(by_key, values)
    for key, value in cleaned.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if check_required:
        for definition in by_key.values():
            if (
                definition.required
                and field_name(definition.key) not in errors
                and definition.key not in result
            ):
                errors[field_name(definition.key)] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    return result


# --- Definitions ------------------------------------------------------------------------------------------


def _records(object_type: str) -> QuerySet:
    if object_type == CustomObject.LEAD:
        return Lead.all_objects.all()
    if object_type == CustomObject.COMPANY:
        return Company.all_objects.all()
    deals = hooks.call(hooks.DEALS)  # pipeline's deals: leads sits below it
    return deals[0] if deals else Company.objects.none()


def custom_field_in_use(definition: FieldDefinition) -> bool:
    """Whether any record holds a value under the definition's key (then its key and type stay as they are)."""
    if definition.pk is None:
        return False
    return _records(definition.object_type).filter(custom__has_key=definition.key).exists()


def _options_clean(field_type: str, options: Any) -> list[str]:
    if field_type not in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE):
        return []
    if isinstance(options, str):
        options = options.splitlines()
    cleaned: list[str] = []
    for option in options or []:
        option = str(option).strip()
        if option and option not in cleaned:
            cleaned.append(option)
    if not cleaned:
        raise ValidationError({"options": _("Give at least one option, one a line.")})
    if len(cleaned) > MAX_OPTIONS or any(len(o) > MAX_OPTION_CHARS for o in cleaned):
        raise ValidationError(
            {
                "options": _("At most %(n)s options of at most %(chars)s characters each.")
                % {"n": MAX_OPTIONS, "chars": MAX_OPTION_CHARS}
            }
        )
    return cleaned


def _definition_check(definition: FieldDefinition) -> None:
    errors: dict[str, str] = {}
    if not re.fullmatch(KEY_PATTERN, definition.key or ""):
        errors["key"] = _(
            "Start with a lower-case letter; use lower-case letters, digits and _ (at most 40)."
        )
    if definition.object_type not in CustomObject.values:
        errors["object_type"] = _("Choose a record.")
    if definition.field_type not in CustomFieldType.values:
        errors["field_type"] = _("Choose a type.")
    if not (definition.label_ja.strip() or definition.label_en.strip()):
        errors["label_ja"] = _("Give a label in Japanese or English.")
    if errors:
        raise ValidationError(errors)
    definition.options = _options_clean(definition.field_type, definition.options)


def _definition_save(definition: FieldDefinition) -> FieldDefinition:
    _definition_check(definition)
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError as exc:
        raise ValidationError({"key": _("Another field of this record has this key.")}) from exc
    return definition


@transaction.atomic
def field_definition_create(*, by: Any, object_type: str, key: str, **fields: Any) -> FieldDefinition:
    """A new custom field on leads, companies or deals. A key used before (even by an archived field) is refused:
    the values stored under it would take the new meaning."""
    key = (key or "").strip()
    if FieldDefinition.objects.filter(object_type=object_type, key=key).exists():
        raise ValidationError({"key": _("Another field of this record has this key.")})
    definition = FieldDefinition(
        object_type=object_type, key=key, **{k: v for k, v in fields.items() if k in DEFINITION_FIELDS}
    )
    return _definition_save(definition)


@transaction.atomic
def field_definition_edit(*, definition: FieldDefinition, by: Any, **fields: Any) -> FieldDefinition:
    """Change a definition. Its key and type are fixed once a record holds a value under it (the values would be
    lost or mean something else); the record type never changes."""
    definition = FieldDefinition.objects.select_for_update().get(pk=definition.pk)
    key = fields.get("key", definition.key)
    changes_meaning = key != definition.key or fields.get("field_type", definition.field_type) != (
        definition.field_type
    )
    if changes_meaning and custom_field_in_use(definition):
        field = "key" if key != definition.key else "field_type"
        raise ValidationError({field: _("Records hold values of this field: its key and type are fixed.")})
    if key != definition.key:
        if FieldDefinition.objects.filter(object_type=definition.object_type, key=key).exists():
            raise ValidationError({"key": _("Another field of this record has this key.")})
        definition.key = key
    for name, value in fields.items():
        if name in DEFINITION_FIELDS:
            setattr(definition, name, value)
    return _definition_save(definition)


def field_definition_archive(
    *, definition: FieldDefinition, by: Any, archived: bool = True
) -> FieldDefinition:
    """Archive a field (it leaves forms, lists, filters, exports, the API and segments; its values stay and
    come back with it) or restore it."""
    definition.archived_at = timezone.now() if archived else None
    definition.save(update_fields=["archived_at", "updated_at"])
    return definition


def custom_apply(
    *,
    object_type: str,
    current: Mapping[str, Any] | None,
    values: Mapping[str, Any],
    place: str = "in_form",
    check_required: bool = True,
) -> dict[str, Any]:
    """`custom_values_clean` against the record type's live definitions shown in `place` ("in_form", "in_api"):
    what a record's create and edit services call with the values a form or the API sent."""
    definitions = [
        d
        for d in FieldDefinition.objects.live().of(object_type).order_by("position", "pk")
        if getattr(d, place)
    ]
    return custom_values_clean(
        definitions=definitions, values=values, current=current, check_required=check_required
    )
