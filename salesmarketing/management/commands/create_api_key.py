"""Create an API key and print it once (the last line of the output, so scripts can take it with `tail -1`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.utils.text import slugify

from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for an integration. The key is printed once, as the last line, and cannot be shown "
        "again (only its hash is stored)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'Website events'.")
        parser.add_argument(
            "--source",
            help="The integration's slug (default: from the name). Event ids are unique per source, so keep it "
            "when you rotate keys.",
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ApiKey.Scope.values,
            metavar="SCOPE",
            help=f"Repeat for several; default: all but leads:privacy. One of: {', '.join(ApiKey.Scope.values)}.",
        )
        parser.add_argument("--user", help="Username the key acts as (records are attributed to them).")

    def handle(
        self, *args, name: str, source: str | None, scopes: list[str] | None, user: str | None, **options
    ):
        name = name.strip()
        if not name:
            raise CommandError("The name must not be empty.")
        source = (source or slugify(name) or "integration").strip()
        try:
            validate_slug(source)
        except ValidationError as exc:
            raise CommandError(
                f"--source must be a slug (letters, digits, - and _), got {source!r}."
            ) from exc
        if len(source) > ApiKey._meta.get_field("source").max_length:
            raise CommandError("--source is too long (50 characters at most).")
        acting_user = None
        if user:
            acting_user = User.objects.filter(username=user, is_active=True).first()
            if acting_user is None:
                raise CommandError(f"No user named {user!r}, or they are deactivated.")
        key, plain = api_key_create(
            name=name, source=source, scopes=sorted(set(scopes or ApiKey.DEFAULT_SCOPES)), user=acting_user
        )
        self.stdout.write(
            f"Created API key {key.prefix}… '{key.name}' (source {key.source}; scopes {', '.join(key.scopes)})."
        )
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(plain)
