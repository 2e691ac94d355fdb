"""API keys say whether they are an integration's (every record) or a user's (what the user reaches), instead of
reading "no user" as "integration"; a user's keys are deleted with the user instead of losing their user.

Existing keys without a user are integrations; keys with one are user keys."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def set_kind(apps, schema_editor):
    ApiKey = apps.get_model("salesmarketing", "ApiKey")
    ApiKey.objects.filter(user__isnull=False).update(kind="user")
    ApiKey.objects.filter(user__isnull=True).update(kind="integration")


class Migration(migrations.Migration):
    dependencies = [
        ("salesmarketing", "0003_team_business_day_end_team_business_day_start_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="kind",
            field=models.CharField(
                choices=[("integration", "Integration"), ("user", "User")],
                default="integration",
                max_length=20,
                verbose_name="kind",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(set_kind, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apikey",
            name="user",
            field=models.ForeignKey(
                blank=True,
                help_text="Records created through this key are attributed to this user; empty: no user.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="api_keys",
                to=settings.AUTH_USER_MODEL,
                verbose_name="acts as",
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind", "integration"), ("user__isnull", True))
                | models.Q(("kind", "user"), ("user__isnull", False)),
                name="apikey_user_key_has_user",
            ),
        ),
    ]
