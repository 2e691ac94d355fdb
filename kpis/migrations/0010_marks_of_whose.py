# A change of whose a row is, and of nothing else measured (a lead handed to a rep, a handoff re-assigned), marks
# its days under the table's own "whose" source, which only a team's or an owner's numbers read (kpis.changes): the
# company-wide values of the days it falls on stay cached. The triggers are made again to mark so.

from django.db import migrations


def install(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection)


def install_as_before(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection, owners_apart=False)


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0009_kpimark"),
    ]

    operations = [migrations.RunPython(install, install_as_before)]
