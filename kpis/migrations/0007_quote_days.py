# The quote KPIs (見積送付数, 見積受注率) measure quotes: their sent and answered days are marked like the other
# measured tables' (kpis.changes), and a deal handed to another rep marks its quotes' days. The triggers are made
# again now that quotes_quote exists (an earlier install skipped it).

from django.db import migrations


def install(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kpis import changes

    with schema_editor.connection.cursor() as cursor:
        drop = changes._pg_drop if schema_editor.connection.vendor == "postgresql" else changes._sqlite_drop
        if schema_editor.connection.vendor in ("postgresql", "sqlite"):
            for statement in drop(changes.QUOTE):
                cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0006_merged_leads_leave_counts"),
        ("quotes", "0002_quote_kpi_indexes_and_protect"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
