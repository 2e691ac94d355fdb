"""The MQL index covers what the MQL counts read (the lead, its state, its campaign, the handoff's id for its deal):
the MQLs of a running quarter, distinct leads and those accepted with a deal, are read from the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0028_search_prefix"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="handoff",
            name="handoff_mql_at_idx",
        ),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                fields=["mql_at"],
                include=("lead", "state", "campaign", "id"),
                name="handoff_mql_at_cover_idx",
            ),
        ),
    ]
