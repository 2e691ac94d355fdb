"""A prefix index for the search's short terms (leads/search/query.py): a deal's name matched by its start
(`istartswith`: `UPPER(name::text) LIKE UPPER('監査%')`) when the term is too short for the trigram index
(0008_search_trigram). PostgreSQL only: on SQLite the search compares the same way, without an index."""

from django.db import migrations

NAME, TABLE = "pipeline_deal_name_prefix", "pipeline_deal"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "{TABLE}" ((UPPER(("name")::text)) text_pattern_ops)'
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0011_activity_updated_at_and_api_since_indexes")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
