# 新規顧客数 counts the leads that became customers, read from their lifecycle history: leads_lifecyclechange is a
# measured table now (its change days are marked like the others', kpis.changes), and a lead handed to another
# rep marks its changes' days (they count for the lead's owner). The triggers are made again with both.

from django.db import migrations


def install(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    """The history's triggers go, and the leads' are made again without the link to it."""
    from kpis import changes

    connection = schema_editor.connection
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    drop = changes._pg_drop if connection.vendor == "postgresql" else changes._sqlite_drop
    with connection.cursor() as cursor:
        for statement in drop(changes.LIFECYCLE):
            cursor.execute(statement)
    changes.install(connection, without=frozenset({changes.LIFECYCLE}))


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0007_quote_days"),
        ("leads", "0025_lifecycle_kpi_index"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
