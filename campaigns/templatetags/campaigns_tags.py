"""Small formatting helpers for the campaign pages."""

from __future__ import annotations

from django import template
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from campaigns.models import AttributionModel
from leads.models import Campaign
from salesmarketing.templatetags.sm import DASH, num, pct, yen

register = template.Library()


@register.filter
def credit(value) -> str:
    """Credited conversions: whole numbers as they are, W-shaped fractions with one decimal ('12.3')."""
    if value is None:
        return DASH
    value = float(value)
    if 0 < value < 0.05:
        return "<0.1"
    if abs(value - round(value)) < 0.05:
        return num(round(value))
    return num(round(value, 1), 1)  # round first: number_format truncates


@register.simple_tag(takes_context=True)
def credit_note(context, value) -> str:
    """The chosen model's credit beside a whole count, when the model is not first touch (whose credit is the
    count). A tag, not an included template: the campaign list shows three a row."""
    return _credit_note(context.get("model"), context.get("model_label"), value)


def _credit_note(model: str, model_label, value) -> str:
    if model == AttributionModel.FIRST:
        return ""
    return format_html(
        '<span class="credit-note" data-credit>{}</span>',
        _("%(model)s credit %(credit)s") % {"model": model_label, "credit": credit(value)},
    )


@register.simple_tag(takes_context=True)
def campaign_rows(context, rows) -> SafeString:
    """The campaign list's rows (campaigns.selectors.CampaignRow). A tag, not template markup: fifty rows of
    thirteen formatted cells were most of the page's rendering time, each variable looked up through the
    template's context stack. Formats each number once; the markup is the list's only copy."""
    model, model_label, models = context.get("model"), context.get("model_label"), context.get("models") or []
    over_budget = _("Over budget")
    # Translated once per page, not per cell: the labels of the channels and statuses, the credit note's wording.
    channels = {key: str(label) for key, label in Campaign.Channel.choices}
    statuses = {key: str(label) for key, label in Campaign.Status.choices}
    note = _("%(model)s credit %(credit)s") if model != AttributionModel.FIRST else ""
    label = str(model_label)

    def credit_with_note(value, credited) -> str:
        if not note:
            return credit(value)
        return format_html(
            '{}<span class="credit-note" data-credit>{}</span>',
            credit(value),
            note % {"model": label, "credit": credit(credited)},
        )

    out = []
    for row in rows:
        c, n = row.campaign, row.numbers
        spend = yen(n.spend)
        if n.over_budget:
            title = _("%(total)s spent in all against a budget of %(budget)s") % {
                "total": yen(n.lifetime_spend),
                "budget": yen(n.budget),
            }
            spend = format_html(
                '{} <span class="chip chip-bad" title="{}">{}</span>', spend, title, over_budget
            )
        if n.decided:
            top = ""
            if row.top_reason:
                top = format_html(
                    '<div class="small muted">{}</div>',
                    _("top: %(reason)s ×%(n)s")
                    % {"reason": row.top_reason[0], "n": localize(row.top_reason[1])},
                )
            verdict = format_html(
                '<span class="up">{}</span> / <span class="down">{}</span> <span class="muted">({})</span>{}',
                localize(n.accepted),
                localize(n.rejected),
                pct(n.acceptance, 0),
                top,
            )
        else:
            verdict = format_html('<span class="muted">{}</span>', DASH)
        revenues = format_html_join(
            "",
            '<td class="num{}" data-col="revenue_{}">{}</td>',
            (
                (" current-model" if key == model else "", key, yen(n.revenue_by_model.get(key)))
                for key, _label in models
            ),
        )
        roi = n.roi
        out.append(
            format_html(
                '<tr data-campaign="{pk}"><td class="campaign-cell"><a href="{url}" class="campaign-name">{name}</a>'
                '<div class="small"><span class="chip channel-{channel}">{channel_label}</span> '
                '<span class="chip chip-muted status-{status}">{status_label}</span>{utm}</div></td>'
                '<td class="num" data-col="spend">{spend}</td>'
                '<td class="num" data-col="leads">{leads}</td>'
                '<td class="num" data-col="mqls">{mqls}</td>'
                '<td class="verdict" data-col="verdict">{verdict}</td>'
                '<td class="num" data-col="deals">{deals}</td>{revenues}'
                '<td class="num" data-col="cpl">{cpl}</td>'
                '<td class="num" data-col="cost_per_mql">{cost_per_mql}</td>'
                '<td class="num" data-col="cost_per_deal">{cost_per_deal}</td>'
                '<td class="num{roi_class}" data-col="roi">{roi}</td></tr>\n',
                pk=localize(c.pk),
                url=c.get_absolute_url(),
                name=c.name,
                channel=c.channel,
                channel_label=channels.get(c.channel, c.channel),
                status=c.status,
                status_label=statuses.get(c.status, c.status),
                utm=format_html(' <code class="utm">{}</code>', c.utm_campaign) if c.utm_campaign else "",
                spend=spend,
                leads=credit_with_note(n.leads, n.credit.get("leads")),
                mqls=credit_with_note(n.mqls, n.credit.get("mqls")),
                verdict=verdict,
                deals=credit_with_note(n.deals, n.credit.get("deals")),
                revenues=revenues,
                cpl=yen(n.cpl),
                cost_per_mql=yen(n.cost_per_mql),
                cost_per_deal=yen(n.cost_per_deal),
                roi_class="" if roi is None else (" up" if roi >= 0 else " down"),
                roi=pct(roi, 0),
            )
        )
    return SafeString("".join(out))


@register.filter
def share_width(value, total) -> str:
    """A bar width in percent for inline bars (0–100, '0' when the total is missing)."""
    try:
        value, total = float(value or 0), float(total or 0)
    except (TypeError, ValueError):
        return "0"
    if total <= 0:
        return "0"
    return f"{max(0.0, min(100.0, 100 * value / total)):.1f}"


@register.filter
def index(sequence, i):
    try:
        return sequence[int(i)]
    except (IndexError, TypeError, ValueError, KeyError):
        return None


@register.simple_tag
def sort_link(current: str, key: str, default_desc: bool = True) -> str:
    """The sort value a column header links to: its default direction, or the reverse when already sorted."""
    if current.lstrip("-") == key:
        return key if current.startswith("-") else f"-{key}"
    return f"-{key}" if default_desc else key


@register.simple_tag
def sort_mark(current: str, key: str) -> str:
    if current.lstrip("-") != key:
        return ""
    return "▼" if current.startswith("-") else "▲"


@register.filter
def index_key(mapping, key):
    """mapping[key] in a template (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
