"""Template helpers for the board, where a few hundred cards make per-card template loops add up."""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from pipeline.models import Deal

register = template.Library()


def _render_memo(context, key: str) -> dict:
    """A dict kept for one rendering of the page: in the render context's outermost dict, since every partial
    (each card) renders in a fresh dict of its own."""
    return context.render_context.dicts[0].setdefault(key, {})


@register.simple_tag(takes_context=True)
def stage_options(context, stages, selected_id) -> str:
    """The <option>s of the card's "move to" select; rendered once per stage per page, not once per card."""
    memo = _render_memo(context, "pipeline_stage_options")
    key = (id(stages), selected_id)
    if key not in memo:
        memo[key] = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(s.pk), mark_safe(" selected") if s.pk == selected_id else "", s.name) for s in stages),
        )
    return memo[key]


def _card_labels(context) -> dict[str, Any]:
    """What every card of a rendering repeats: the labels (translated once), the CSRF field and `next`."""
    memo = _render_memo(context, "pipeline_card_labels")
    if not memo:
        memo.update(
            stale_title=escape(gettext("In this stage longer than usual")),
            stale=escape(gettext("Stale")),
            close=escape(gettext("Expected close date")),
            next=escape(gettext("Next")),
            overdue=escape(gettext("Overdue")),
            move=escape(gettext("Move…")),
            move_to=escape(gettext("Move to")),
            move_button=escape(gettext("Move")),
            csrf=CsrfTokenNode().render(context),
            next_url=escape(context.get("board_url", "")),
            # A lost card's cause and side: get_FOO_display hashes every lazy choice label on each call.
            loss_cause={k: escape(str(v)) for k, v in Deal._meta.get_field("loss_cause").flatchoices},
            loss_side={k: escape(str(v)) for k, v in Deal._meta.get_field("loss_side").flatchoices},
        )
    return memo


@register.simple_tag(takes_context=True)
def board_card(context, card, read_only, stages) -> SafeString:
    """One card of the board (`board.html#card` is this tag: the board, a column's next page and the columns a
    move redraws all render it). Built as one string from the texts selectors.Card worked out: a card rendered
    node by node took some 1,300 function calls, and a board shows 200 cards. Every text is escaped here (the
    standard library's escape, as Django's does it, without the lazy-string wrapper around each call)."""
    labels = _card_labels(context)
    deal = card.deal
    pk = card.pk
    stale = card.is_stale
    overdue = card.next_step_overdue
    company = card.company_name
    parts = [
        f'\n<li class="deal-card{" is-stale" if stale else ""}{" is-overdue" if overdue else ""}" id="deal-{pk}" '
        f'data-deal="{pk}">\n<div class="deal-card-top"><a class="deal-card-name" href="{escape(card.url)}">'
        f"{escape(deal.name)}</a>",
        f'<span class="chip chip-warn" title="{labels["stale_title"]}">{labels["stale"]}</span>'
        if stale
        else "",
        f'</div>\n<div class="deal-card-company">{escape(company) if company else "—"}</div>\n'
        f'<div class="deal-card-figures"><span class="deal-card-amount">{escape(card.amount)}</span>'
        f'<span class="deal-card-close" title="{labels["close"]}">{escape(card.expected_close)}</span></div>\n',
        f'<div class="deal-card-items">{escape(card.items_text)}</div>' if card.items_text else "",
        f'\n<div class="deal-card-meta"><span class="deal-card-owner">{escape(card.owner_name)}</span>'
        f'<span class="deal-card-age{" is-stale" if stale else ""}">{escape(card.days_text)}</span></div>\n',
    ]
    if card.next_step_shown:
        day = card.next_step_day
        parts.append(
            f'<div class="deal-card-next{" is-overdue" if overdue else ""}"><span class="deal-card-next-label">'
            f"{labels['next']}:</span> {escape(deal.next_step)}"
            + (f' <time datetime="{day[0]}">{escape(day[1])}</time>' if day else "")
            + (f' <span class="chip chip-bad">{labels["overdue"]}</span>' if overdue else "")
            + "</div>"
        )
    parts.append("\n")
    if deal.status == "lost":
        parts.append(
            f'<div class="deal-card-loss">{labels["loss_cause"].get(deal.loss_cause) or escape(deal.loss_cause)} · '
            f"{labels['loss_side'].get(deal.loss_side) or escape(deal.loss_side)}</div>"
        )
    parts.append("\n")
    if not read_only:
        move_url = escape(card.move_url)
        parts.append(
            f'<details class="deal-card-move"><summary>{labels["move"]}</summary>\n'
            f'<form class="deal-move-form" method="post" action="{move_url}" hx-post="{move_url}" '
            f'hx-include="#board-filters" hx-swap="none">{labels["csrf"]}<input type="hidden" name="next" '
            f'value="{labels["next_url"]}"><input type="hidden" name="version" value="{card.version}">\n'
            f'<label class="sr-only" for="move-{pk}">{labels["move_to"]}</label><select name="stage" '
            f'id="move-{pk}">{stage_options(context, stages, deal.stage_id)}</select>\n'
            f'<button type="submit" class="btn btn-small">{labels["move_button"]}</button></form></details>'
        )
    parts.append("\n</li>\n")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or our own markup
