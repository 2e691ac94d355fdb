"""Writes for users, teams and notifications."""

from __future__ import annotations

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from salesmarketing.models import Notification, Team, User


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    team: Team | None = None,
    display_name: str = "",
    email: str = "",
) -> User:
    """Create a user; admins get the Django admin too."""
    is_admin = role == User.Role.ADMIN
    return User.objects.create_user(
        username=username,
        password=password,
        email=email,
        role=role,
        team=team,
        display_name=display_name,
        is_staff=is_admin,
        is_superuser=is_admin,
    )


def notification_send(
    *, recipient: User, title: str, body: str = "", url: str = "", email: bool = False
) -> Notification:
    """Notify a user in the app (the bell) and, when asked, by email after the transaction commits."""
    notification = Notification.objects.create(recipient=recipient, title=title, body=body, url=url)
    if email and recipient.email:
        transaction.on_commit(
            lambda: send_mail(title, body or title, None, [recipient.email], fail_silently=True)
        )
    return notification


def notifications_mark_read(*, recipient: User) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).update(
        read_at=timezone.now()
    )
