"""Reads for the integrations settings pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from integrations.models import TeamChannel, WebhookDelivery, WebhookSubscription
from salesmarketing.models import Team

DELIVERY_LOG_ROWS = 50


def webhook_list() -> QuerySet[WebhookSubscription]:
    """Every subscription, with its pending and failed delivery counts: one query."""
    return WebhookSubscription.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.FAILED)),
    ).order_by("name", "id")


def delivery_log(
    *, subscription: WebhookSubscription | None = None, channel: TeamChannel | None = None
) -> list[WebhookDelivery]:
    """A webhook subscription's or a team channel's latest deliveries, newest first, with their events: one
    query."""
    return list(
        WebhookDelivery.objects.filter(subscription=subscription, channel=channel)
        .select_related("event")
        .order_by("-id")[:DELIVERY_LOG_ROWS]
    )


def teams_with_channels() -> list[Team]:
    """Every team with its chat channel (or none): two queries."""
    teams = list(Team.objects.order_by("name"))
    channels = {channel.team_id: channel for channel in TeamChannel.objects.all()}
    for team in teams:
        team.channel = channels.get(team.pk)  # type: ignore[attr-defined]
    return teams
