from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def layout(request: HttpRequest) -> dict:
    """What the base layout needs on every page: the unread notification count.

    The authentication backend (salesmarketing.security.ThrottledModelBackend.get_user) loads it with the user, in
    the same statement; a user signed in some other way (a test's RequestFactory) costs one query here. The count
    is the one at the start of the request, as no page renders the bell after writing the viewer's own
    notifications: marking them read answers with the bell at 0, and the writes that notify someone answer with a
    redirect or a partial without the bell."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread = getattr(user, "unread_notifications", None)
    if unread is None:
        unread = user.notifications.filter(read_at__isnull=True).count()
    return {
        "unread_count": unread,
        "inbound_log_address": settings.INBOUND_EMAIL_LOG_ADDRESS,
    }
