from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def layout(request: HttpRequest) -> dict:
    """What the base layout needs on every page: the unread notification count (one query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
        "inbound_log_address": settings.INBOUND_EMAIL_LOG_ADDRESS,
    }
