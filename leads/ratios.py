"""The marketing ratios, defined once: cost per lead, cost per MQL, cost per deal, ROI, sales' acceptance rate.

Two layers show these numbers: the KPI registry (`kpis`, the top layer) and the campaign pages (`campaigns`,
below `kpis`, which it must not import). So each ratio is defined here, in the records layer both stand on: what
is divided by what, None when the denominator is zero or unknown, and how a value is rounded. A ratio names its
parts by role (`spend`, `leads`, `mqls`, `deals`, `revenue`, `accepted`, `rejected`):

- the KPI registry binds the roles to its measures: `CPL.bind(spend="cost", leads="leads_all")`;
- the campaign pages read the roles from their numbers (`CPL.rounded(numbers)`), and sort by the same formula in
  SQL (`CPL.sql(column)`).

`Ratio` and `Gain` are also the registry's formula language for every other ratio KPI (win rate, SLA met…).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

Number = int | float | None

# Places a value keeps as it is stored and served: whole yen; shares (0.256 = 25.6 %) to 6 places.
YEN_PLACES = 0
SHARE_PLACES = 6


def round_to(value: Number, places: int) -> Number:
    """`value` to `places` decimals (0: a whole number, an int); None stays None."""
    if value is None:
        return None
    if places == 0:
        return int(round(value))
    return round(float(value), places)


@dataclass(frozen=True)
class Ratio:
    """numerator ÷ (sum of the denominators); None when a part is unknown or the denominator is zero, and, for a
    cost (`cost=True`), when nothing was spent: "0 yen per lead" would say the leads were free, when their cost
    is only not recorded."""

    numerator: str
    denominators: tuple[str, ...]
    places: int = SHARE_PLACES
    cost: bool = False

    @property
    def measures(self) -> tuple[str, ...]:
        return (self.numerator, *self.denominators)

    def __call__(self, m: Mapping[str, Number]) -> Number:
        parts = [m.get(name) for name in self.denominators]
        if any(part is None for part in parts):
            return None
        denominator = sum(part for part in parts if part is not None)
        numerator = m.get(self.numerator)
        if not denominator or numerator is None or (self.cost and not numerator):
            return None
        return numerator / denominator

    def rounded(self, m: Mapping[str, Number]) -> Number:
        return round_to(self(m), self.places)

    def bind(self, **names: str) -> Ratio:
        """The same ratio over other names (role → measure)."""
        return replace(
            self,
            numerator=names.get(self.numerator, self.numerator),
            denominators=tuple(names.get(name, name) for name in self.denominators),
        )

    def sql(self, column: Callable[[str], str]) -> str:
        """The ratio as a SQL expression over the columns `column(role)` names (NULL on a zero denominator)."""
        denominator = " + ".join(column(name) for name in self.denominators)
        numerator = f"NULLIF({column(self.numerator)}, 0)" if self.cost else column(self.numerator)
        return f"1.0 * {numerator} / NULLIF({denominator}, 0)"


@dataclass(frozen=True)
class Gain:
    """(gain − cost) ÷ cost: the return on what was spent; None without spend."""

    gain: str
    cost: str
    places: int = SHARE_PLACES

    @property
    def measures(self) -> tuple[str, ...]:
        return (self.gain, self.cost)

    def __call__(self, m: Mapping[str, Number]) -> Number:
        gain, cost = m.get(self.gain), m.get(self.cost)
        if not cost or gain is None:
            return None
        return (gain - cost) / cost

    def rounded(self, m: Mapping[str, Number]) -> Number:
        return round_to(self(m), self.places)

    def bind(self, **names: str) -> Gain:
        return replace(self, gain=names.get(self.gain, self.gain), cost=names.get(self.cost, self.cost))

    def sql(self, column: Callable[[str], str]) -> str:
        gain, cost = column(self.gain), column(self.cost)
        return f"1.0 * ({gain} - {cost}) / NULLIF({cost}, 0)"


# Spend in yen per lead, MQL and deal: whole yen.
CPL = Ratio("spend", ("leads",), places=YEN_PLACES, cost=True)
COST_PER_MQL = Ratio("spend", ("mqls",), places=YEN_PLACES, cost=True)
COST_PER_DEAL = Ratio("spend", ("deals",), places=YEN_PLACES, cost=True)
# (Revenue − spend) ÷ spend.
ROI = Gain("revenue", "spend")
# Of the handoffs sales decided, the share accepted (the KPI registry's lead quality).
ACCEPTANCE = Ratio("accepted", ("accepted", "rejected"))
# Leads that became MQLs.
MQL_RATE = Ratio("mqls", ("leads",))
