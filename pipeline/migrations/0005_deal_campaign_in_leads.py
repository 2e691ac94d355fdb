"""Deal.first_touch_campaign points at leads.Campaign (moved from the campaigns app in leads 0015): state only,
the column and its foreign key constraint are unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0015_campaign_persona_move_in'),
        ('pipeline', '0004_deal_from_handoff_is_marketing'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='deal',
                    name='first_touch_campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deals', to='leads.campaign', verbose_name='first-touch campaign'),
                ),
            ],
        ),
    ]
