"""Factories for the salesmarketing app (teams, users, notifications); each app's tests have their own
tests/<app>/factories.py beside them."""

import factory

from salesmarketing.models import Notification, Team, User
from salesmarketing.notifications import Message
from salesmarketing.services import notification_send

# A message that shows what it is given, for tests that need a notification of any text.
NOTE = Message("test_note", title="%(title)s", body="%(body)s")


def notify(
    *, recipient: User, title: str, body: str = "", url: str = "", email: bool = False
) -> Notification | None:
    """A notification with this title and body, sent the app's way."""
    return notification_send(
        recipient=recipient, message=NOTE, params={"title": title, "body": body}, url=url, email=email
    )


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"営業{n}課")
    kind = Team.Kind.SALES


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"ユーザー {n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.jp")
    role = User.Role.SALES
    team = factory.SubFactory(TeamFactory)
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"お知らせ {n}")
