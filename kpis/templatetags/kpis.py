"""Formatting KPI values by unit, in the viewer's language ('—' for a value that does not exist)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext

from salesmarketing.templatetags.sm import DASH, hours_minutes, num, pct, yen

register = template.Library()


@register.filter
def kpi_value(value, kpi) -> str:
    """A value in its KPI's unit: 12 / 25.6% / 1,234,567円 / 12.5 days / 1h 35m."""
    if value is None:
        return DASH
    unit = getattr(kpi, "unit", kpi)
    if unit == "minutes_from_seconds":  # a row's own duration in a drill-down
        unit, value = "minutes", float(value) / 60
    elif unit == "days_from_seconds":
        unit, value = "days", float(value) / 86400
    # sm's filters cut digits off rather than round (66.67 % → "66.6%"), so round here first.
    if unit == "percent":
        return pct(_rounded(value, 3))
    if unit == "yen":
        return yen(value)
    if unit == "days":
        return gettext("%(days)s days") % {"days": num(_rounded(value, 1), 1)}
    if unit == "minutes":
        return hours_minutes(round(float(value)) / 60)
    return num(_rounded(value, 0))


def _rounded(value, places: int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@register.filter
def kpi_change(figure) -> str:
    """Versus the previous period: '+2.1 pt' for percentages, '+12.5%' otherwise, '—' when it cannot be said."""
    change = figure.change
    if change is None:
        return DASH
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    if figure.kpi.is_ratio:
        points = number_format(_rounded(abs(change) * 100, 1), decimal_pos=1, use_l10n=True)
        return gettext("%(sign)s%(points)s pt") % {"sign": sign, "points": points}
    return f"{sign}{pct(_rounded(abs(change), 3))}"


@register.filter
def change_class(good) -> str:
    return {True: "up", False: "down"}.get(good, "flat")


@register.filter
def kpi_progress(figure) -> str:
    """Against the target: '85%' of it reached (higher is better), or on / off track for lower is better, where a
    share of a ceiling reads backwards."""
    if figure.progress is None:
        return DASH
    if figure.kpi.direction == "down":
        if figure.on_track is None:
            return DASH
        return gettext("On track") if figure.on_track else gettext("Off track")
    return pct(figure.progress, 0)


@register.filter
def funnel_ratio(step) -> str:
    """The ratio to the step before, or why there is none."""
    if step.exceeds:
        return gettext("more than the step before")
    return pct(step.conversion)


@register.filter
def track_class(on_track) -> str:
    return {True: "is-good", False: "is-bad"}.get(on_track, "is-none")


@register.simple_tag
def kpi_url(kpi, period, team=None, **extra) -> str:
    """The drill-down of a KPI for a period (and team)."""
    key = getattr(kpi, "key", kpi)
    params = {"period": period.label if hasattr(period, "label") else period}
    if team is not None and getattr(kpi, "team_scoped", True):
        params["team"] = getattr(team, "pk", team)
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return f"{reverse('kpis:drilldown', args=[key])}?{urlencode(params)}"


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with some parameters replaced (None removes one); for switch links."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = getattr(value, "pk", getattr(value, "label", value))
    if "page" not in changes:  # another period or team starts on the first page
        params.pop("page", None)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def period_span(period) -> str:
    """The days a period covers: '2026/11/16 – 11/22', '2026/11/1 – 11/30'."""
    start, last = period.start, period.last_day
    if start.year != last.year:
        return f"{start:%Y}/{start.month}/{start.day} – {last:%Y}/{last.month}/{last.day}"
    return f"{start:%Y}/{start.month}/{start.day} – {last.month}/{last.day}"


@register.filter
def pct_width(value) -> str:
    """A 0–100 number for a style attribute, never localised ('42.5')."""
    try:
        return f"{max(0.0, min(100.0, float(value))):.1f}"
    except (TypeError, ValueError):
        return "0"
