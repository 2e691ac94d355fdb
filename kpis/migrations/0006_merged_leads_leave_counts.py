# A merged lead leaves every count (leads.merge): its merged_into_id is now a measured column of leads_lead, so
# the day it was created (and became MQL) is marked when it is merged, and a cached period that counted it is
# recomputed at its next read. The triggers are made again with the new column list.

from django.db import migrations


def install(apps, schema_editor):
    from kpis import changes

    changes.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0005_visitor_is_a_person"),
        ("leads", "0021_duplicates_and_merge"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=True)]
