"""A trigram index for the search's deals (pipeline.selectors.search): pg_trgm, and a GIN index on the expression
`icontains` compares, `UPPER(name::text)`. PostgreSQL only. The pg_trgm extension comes with leads' search
migration (this one needs it, and goes back before it does)."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE INDEX IF NOT EXISTS "pipeline_deal_name_trgm" ON "pipeline_deal" '
            'USING gin ((UPPER(("name")::text)) gin_trgm_ops)'
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('DROP INDEX IF EXISTS "pipeline_deal_name_trgm"')


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0007_activity_meeting_time_idx"), ("leads", "0020_search_trigram")]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
