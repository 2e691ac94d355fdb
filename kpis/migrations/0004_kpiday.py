from django.db import migrations, models


def install(apps, schema_editor):
    from kpis import changes

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS kpis_kpiday_generation_seq")
    changes.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kpis import changes

    changes.uninstall(schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS kpis_kpiday_generation_seq")


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0003_visitor_count"),
        ("campaigns", "0002_personarule_attribution"),
        ("leads", "0012_drop_redundant_fk_indexes"),
        ("pipeline", "0003_drop_redundant_fk_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="KpiDay",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "source", "day", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("source", models.CharField(max_length=10)),
                ("day", models.DateField()),
                ("generation", models.BigIntegerField()),
            ],
            options={
                "verbose_name": "KPI day generation",
                "verbose_name_plural": "KPI day generations",
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
