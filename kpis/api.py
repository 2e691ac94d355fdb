"""`GET /api/v1/kpis`: every KPI's value for an ISO week or a date range (Asia/Tokyo), for everyone or one team.

    GET /api/v1/kpis?week=2026-W47
    GET /api/v1/kpis?start=2026-11-01&end=2026-11-30&team=3     (both days inclusive)

A frozen week answers with the numbers its snapshot holds, so the API and last Monday's meeting agree; anything
else is computed now and includes every write made before the request. Each value says which it is: `"source":
"snapshot"` with `as_of` the moment the week was frozen (later corrections are not in it), or `"source": "live"`
with `as_of` the moment it was computed. A KPI defined after the week was frozen is live in a frozen week.
The top-level `source` is "snapshot" when the week is frozen.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from kpis import services
from kpis.models import ManualKpiValue, WeeklySnapshot, may_enter_manual_values
from kpis.periods import WEEK, Period, PeriodError
from kpis.registry import KPIS, Scope, compute
from leads.ingest import Text
from salesmarketing.api import Page, PageQuery, acting_user, page_out, require_scope, service_invalid
from salesmarketing.dates import InRangeDate
from salesmarketing.models import ApiKey, Team

router = Router(tags=["kpis"])


class PeriodOut(Schema):
    label: str
    kind: str
    start: dt.date
    end: dt.date  # the last day, inclusive
    time_zone: str = "Asia/Tokyo"


class KpiOut(Schema):
    key: str
    label: str
    label_ja: str
    label_en: str
    unit: str
    direction: str
    owner: str
    value: float | int | None
    source: str  # "live" (computed at as_of) or "snapshot" (frozen at as_of)
    as_of: dt.datetime
    definition: str
    version: int


class KpisOut(Schema):
    period: PeriodOut
    team: int | None
    source: str
    frozen_at: dt.datetime | None
    as_of: dt.datetime  # when the values were computed: the freeze, when all come from the snapshot
    kpis: list[KpiOut]


def _period(week: str | None, start: str | None, end: str | None) -> Period:
    if week and (start or end):
        raise HttpError(422, "Give either week or start and end, not both.")
    try:
        if week:
            period = Period.parse(week)
            if period.kind != WEEK:
                raise HttpError(422, "week must be an ISO week such as 2026-W47.")
            return period
        if not (start and end):
            raise HttpError(422, "Give week=YYYY-Www, or start and end dates (YYYY-MM-DD, both inclusive).")
        return Period.between(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    except (PeriodError, ValueError) as exc:
        raise HttpError(422, f"Invalid period: {exc}") from exc


@router.get("/kpis", response=KpisOut, summary="Every KPI's value for a period")
def kpis(
    request: HttpRequest,
    week: str | None = None,
    start: str | None = None,
    end: str | None = None,
    team: int | None = None,
):
    require_scope(request, ApiKey.Scope.KPIS_READ)
    period = _period(week, start, end)
    if team is not None and not Team.objects.filter(pk=team).exists():
        raise HttpError(422, f"No team with id {team}.")
    snapshot = None
    if period.kind == WEEK:
        snapshot = WeeklySnapshot.objects.filter(week_start=period.start, team_id=team).first()
    frozen = snapshot.values if snapshot else {}
    now = timezone.now()
    live_kpis = [kpi for kpi in KPIS if kpi.key not in frozen]
    live = compute([period], scope=Scope(team_id=team), kpis=live_kpis, now=now)[0] if live_kpis else {}

    def value(key: str) -> dict:
        if key in frozen:
            return {"value": frozen[key], "source": "snapshot", "as_of": snapshot.frozen_at}
        return {"value": live.get(key), "source": "live", "as_of": now}

    return {
        "period": {"label": period.label, "kind": period.kind, "start": period.start, "end": period.last_day},
        "team": team,
        "source": "snapshot" if snapshot else "live",
        "frozen_at": snapshot.frozen_at if snapshot else None,
        "as_of": now if live_kpis else snapshot.frozen_at,
        "kpis": [
            {
                "key": kpi.key,
                "label": kpi.name,
                "label_ja": kpi.name_ja,
                "label_en": str(kpi.name_en),
                "unit": kpi.unit.value,
                "direction": kpi.direction.value,
                "owner": kpi.owner.value,
                **value(kpi.key),
                "definition": str(kpi.definition),
                "version": kpi.version,
            }
            for kpi in KPIS
        ],
    }


# --- Hand-entered values (brand awareness, market size …) --------------------------------------------------

ManualKey = Literal[services.MANUAL_KEYS]  # type: ignore[valid-type]


class ManualValueOut(Schema):
    id: int
    kpi: str
    period_kind: str
    period_start: dt.date
    value: float
    note: str
    entered_by_id: int | None
    entered_at: dt.datetime


class ManualValueIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kpi: ManualKey = Field(
        ..., description="A KPI entered by hand (see GET /kpis: those whose values you enter)."
    )
    period_kind: Literal["month", "quarter", "year"] = "month"
    period_start: InRangeDate = Field(..., description="Any day of the period; stored as its first day.")
    value: Decimal = Field(
        ..., ge=0, max_digits=18, decimal_places=6, description="A ratio (0..1) for a percentage KPI."
    )
    note: Text = Field("", max_length=300, description="The source of the number.")


class ManualValueFilters(PageQuery):
    kpi: ManualKey | None = None


@router.get(
    "/kpis/values", response=Page[ManualValueOut], summary="Hand-entered KPI values, latest entered first"
)
def manual_values_list(request: HttpRequest, filters: Query[ManualValueFilters]):
    require_scope(request, ApiKey.Scope.KPIS_READ)
    qs = ManualKpiValue.objects.all()
    if filters.kpi:
        qs = qs.filter(kpi=filters.kpi)
    return page_out(qs, filters, keys=("pk",))


@router.put("/kpis/values", response=ManualValueOut, summary="Enter or correct a hand-entered KPI value")
def manual_values_set(request: HttpRequest, payload: ManualValueIn):
    """One value per KPI and period: sending it again corrects it. Needs `kpis:write`; a key acting as a user
    also needs that user's right to enter values on the values page (managers, admins, marketing; 403)."""
    key = require_scope(request, ApiKey.Scope.KPIS_WRITE)
    user = acting_user(key)
    if user is not None and not may_enter_manual_values(user):
        raise HttpError(403, "This key's user may not enter KPI values.")
    try:
        return services.manual_value_set(**payload.model_dump(), by=user)
    except DjangoValidationError as error:
        raise service_invalid(error) from None
