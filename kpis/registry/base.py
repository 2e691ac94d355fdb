"""The shape of a KPI definition and the small formula language that turns measures into KPI values.

A *measure* is one SQL aggregate over one table for one period (kpis.registry.measures); a KPI's *formula*
combines measures (a value, a ratio, a difference…). Formulas are plain objects, so the registry can list the
measures a KPI is made of and the API and the pages can explain it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.ratios import SHARE_PLACES, YEN_PLACES, Gain, Number, Ratio, round_to


class Unit(models.TextChoices):
    COUNT = "count", _("count")
    PERCENT = "percent", _("percent")
    YEN = "yen", _("yen")
    DAYS = "days", _("days")
    MINUTES = "minutes", _("minutes")


class Direction(models.TextChoices):
    UP = "up", _("higher is better")
    DOWN = "down", _("lower is better")
    NEUTRAL = "neutral", _("neither")


class OwnerTeam(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    SHARED = "shared", _("Shared")


# --- formulas ---------------------------------------------------------------------------------------------
# Ratio and Gain (numerator ÷ denominators, return on spend) are defined with the marketing ratios in
# leads.ratios, which the campaign pages use too.


@dataclass(frozen=True)
class Value:
    """One measure as it is, optionally scaled (seconds → minutes)."""

    measure: str
    scale: float = 1.0

    @property
    def measures(self) -> tuple[str, ...]:
        return (self.measure,)

    def __call__(self, m: Mapping[str, Number]) -> Number:
        value = m.get(self.measure)
        if value is None or self.scale == 1.0:
            return value
        return value * self.scale


@dataclass(frozen=True)
class Difference:
    minuend: str
    subtrahend: str

    @property
    def measures(self) -> tuple[str, ...]:
        return (self.minuend, self.subtrahend)

    def __call__(self, m: Mapping[str, Number]) -> Number:
        a, b = m.get(self.minuend), m.get(self.subtrahend)
        if a is None or b is None:
            return None
        return a - b


Formula = Value | Ratio | Gain | Difference


# --- the definition --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    name_ja: str
    name_en: Promise
    unit: Unit
    direction: Direction
    owner: OwnerTeam
    formula: Formula
    definition: Promise
    drilldown: str  # a key of kpis.registry.drilldowns.DRILLDOWNS
    # Bump when the formula's meaning changes: frozen weeks then say their number was defined differently.
    version: int = 1
    # Counts and sums grow through a period, so a target is paced (target × elapsed share); ratios are not.
    additive: bool = True
    # A card on the shared dashboard and a row of the weekly review's KPI table.
    headline: bool = False
    # False: a company-wide number that a team filter leaves as it is (visitors, costs, surveys).
    team_scoped: bool = True
    # Entered by hand (ManualKpiValue) rather than computed.
    manual: bool = False
    # A helper number (the funnel's steps, breach counts): computed and frozen, but not a card of its own.
    auxiliary: bool = False
    # Other KPIs whose records explain this one (cost per lead → costs and leads).
    inputs: tuple[str, ...] = ()
    note: Promise | None = None

    @property
    def name(self) -> str:
        """The name in the viewer's language."""
        return self.name_ja if (get_language() or "ja").startswith("ja") else str(self.name_en)

    @property
    def measures(self) -> tuple[str, ...]:
        return self.formula.measures

    @property
    def is_ratio(self) -> bool:
        return self.unit == Unit.PERCENT

    def round(self, value: Number) -> Number:
        """Values as they are stored and served: whole yen and counts, ratios to 6 places."""
        if self.unit in (Unit.YEN, Unit.COUNT):
            return round_to(value, YEN_PLACES)
        if self.unit == Unit.PERCENT:
            return round_to(value, SHARE_PLACES)
        return round_to(value, 2)

    def is_good(self, value: Number, reference: Number) -> bool | None:
        """Is `value` better than `reference` in this KPI's direction? None when it cannot be said."""
        if value is None or reference is None or self.direction == Direction.NEUTRAL or value == reference:
            return None
        return value > reference if self.direction == Direction.UP else value < reference


def definitions_hash(kpis) -> str:
    """A short fingerprint of every definition's key and version."""
    text = ";".join(f"{kpi.key}:{kpi.version}" for kpi in sorted(kpis, key=lambda k: k.key))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
