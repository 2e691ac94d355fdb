# KPI day marks are appended (kpis_kpimark) instead of upserted into one row per day (kpis_kpiday), and today's
# writes are marked too: writers marking the same day no longer wait for one another's commit, and a running
# period's cached medians and distinct counts see today's writes. The triggers are made again to write the marks.
# Migrating back below this leaves the measured tables without triggers until it is applied again.

from django.db import migrations, models


def install(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kpis import changes

    changes.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0008_lifecycle_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="KpiMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(max_length=10)),
                ("day", models.DateField()),
                ("generation", models.BigIntegerField()),
            ],
            options={
                "verbose_name": "KPI day mark",
                "verbose_name_plural": "KPI day marks",
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
