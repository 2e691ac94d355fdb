"""A BRIN index on leads_touch.created_at (received time) for the sweeper's "touches stored since the lead was
last scored" pass (leads.tasks.leads_with_unscored_touches).

Touches are appended in received order, so a block-range index answers "received in the last hours" from a few
pages at almost no cost per insert, unlike a B-tree on the busiest table. PostgreSQL only and kept out of the
model state (like the autovacuum tuning of 0006): SQLite has no BRIN, and at its scale the scan is cheap.
"""

from django.db import migrations

INDEX = "touch_received_brin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_touch USING brin (created_at) "
            "WITH (pages_per_range = 32, autosummarize = on)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0006_touch_fk_indexes_and_autovacuum")]

    operations = [migrations.RunPython(create, drop)]
