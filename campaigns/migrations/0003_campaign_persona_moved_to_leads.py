"""The campaigns app's foreign keys point at leads.Campaign and leads.Persona, and the old models leave the
campaigns app's state (leads 0015 moved them; their tables stay as they are). State only: no DDL. Runs after every
migration that moves a foreign key to them (leads 0015, pipeline 0005)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0002_personarule_attribution'),
        ('leads', '0015_campaign_persona_move_in'),
        ('pipeline', '0005_deal_campaign_in_leads'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='attributioncredit',
                    name='campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='leads.campaign'),
                ),
                migrations.AlterField(
                    model_name='campaigncost',
                    name='campaign',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='costs', to='leads.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='attributionday',
                    name='campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='attribution_days', to='leads.campaign'),
                ),
                migrations.AlterField(
                    model_name='personarule',
                    name='persona',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='leads.persona', verbose_name='persona'),
                ),
                migrations.DeleteModel(
                    name='Campaign',
                ),
                migrations.DeleteModel(
                    name='Persona',
                ),
            ],
        ),
    ]
