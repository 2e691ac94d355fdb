from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from kpis.models import ManualKpiValue
from kpis.periods import KIND_LABELS, KINDS
from kpis.registry import KPI_BY_KEY, Kpi
from kpis.selectors import TargetRow
from salesmarketing.dates import DateField
from salesmarketing.fields import GroupedDecimalField, GroupedNumberInput
from salesmarketing.forms import QuickSelect
from salesmarketing.models import User

HUNDRED = Decimal(100)


class ActionItemForm(forms.Form):
    title = forms.CharField(
        label=_("Action"),
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("What will be done?"), "autocomplete": "off"}),
    )
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, widget=QuickSelect)  # a few hundred people
    due_date = DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, owners: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.owners = {user.pk: user for user in owners}
        self.offer(owners)

    def offer(self, owners: list[User]) -> None:
        """List these owners in the select (validation keeps accepting every owner the form was made with)."""
        self.fields["owner"].choices = [("", "—")] + [
            (user.pk, f"{user}{f' ({user.team})' if user.team_id else ''}") for user in owners
        ]

    def clean_owner(self) -> User:
        return self.owners[self.cleaned_data["owner"]]


def _is_percent(kpi: Kpi) -> bool:
    return kpi.is_ratio


class TargetsForm(forms.Form):
    """One number field per KPI and period kind; percentages are typed as percent (25 = 25 %)."""

    def __init__(self, *args, rows: list[TargetRow], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            for kind in KINDS:
                current = row.targets.get(kind)
                if current is not None and _is_percent(row.kpi):
                    current = Decimal(str(current)) * HUNDRED
                self.fields[self.field_name(row.kpi, kind)] = GroupedDecimalField(
                    label=f"{row.kpi.name} ({KIND_LABELS[kind]})",
                    required=False,
                    min_value=0,
                    max_digits=16,
                    decimal_places=2,
                    initial=None if current is None else f"{Decimal(str(current)).normalize():f}",
                    widget=GroupedNumberInput(attrs={"class": "target-input"}),
                )

    @staticmethod
    def field_name(kpi: Kpi, kind: str) -> str:
        return f"{kpi.key}__{kind}"

    def grid(self):
        """(row, [bound field per kind]) for the template's table."""
        return [(row, [self[self.field_name(row.kpi, kind)] for kind in KINDS]) for row in self.rows]

    def changed_targets(self) -> list[tuple[str, str, Decimal | None]]:
        """(kpi key, period kind, value in the KPI's unit) for every field the user changed."""
        changes = []
        for name in self.changed_data:
            key, kind = name.rsplit("__", 1)
            value = self.cleaned_data[name]
            if value is not None and _is_percent(KPI_BY_KEY[key]):
                value = value / HUNDRED
            changes.append((key, kind, value))
        return changes


class ManualValueForm(forms.Form):
    kpi = forms.ChoiceField(label=_("KPI"))
    period_kind = forms.ChoiceField(label=_("Period"), choices=ManualKpiValue.Kind.choices)
    period_start = DateField(
        label=_("Period starts"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Any day in the period; it is moved to the period's first day."),
    )
    value = forms.DecimalField(
        label=_("Value"),
        min_value=0,
        max_digits=18,
        decimal_places=4,
        help_text=_("Brand awareness in percent (23.5); market size in yen per year."),
    )
    note = forms.CharField(label=_("Source / note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].choices = [(kpi.key, kpi.name) for kpi in KPI_BY_KEY.values() if kpi.manual]

    def clean(self):
        data = super().clean()
        kpi = KPI_BY_KEY.get(data.get("kpi", ""))
        value = data.get("value")
        if kpi is not None and value is not None and kpi.is_ratio:
            if value > 100:
                self.add_error("value", _("A percentage is at most 100."))
            else:
                data["value"] = value / HUNDRED
        return data
