"""Template helpers for the board, where a few hundred cards make per-card template loops add up."""

from __future__ import annotations

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def stage_options(context, stages, selected_id) -> str:
    """The <option>s of the card's "move to" select; rendered once per stage per page, not once per card."""
    # In the render context's outermost dict: every partial (each card) renders in a fresh dict of its own.
    memo = context.render_context.dicts[0].setdefault("pipeline_stage_options", {})
    key = (id(stages), selected_id)
    if key not in memo:
        memo[key] = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(s.pk), mark_safe(" selected") if s.pk == selected_id else "", s.name) for s in stages),
        )
    return memo[key]
