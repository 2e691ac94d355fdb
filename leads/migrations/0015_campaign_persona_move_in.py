"""Campaign and Persona move from the campaigns app into leads (the records layer), so that every foreign key
points down. Their tables keep their names (`campaigns_campaign`, `campaigns_persona`, the M2M
`campaigns_campaign_personas`): the move happens in migration state only, no DDL runs. Leads' own six foreign keys
follow in state; pipeline 0005 and campaigns 0003 move theirs, and campaigns 0003 drops the old models from state.

Their content types move too (app_label `campaigns` → `leads`, same rows and ids), so permissions, admin log
entries and anything else pointing at a content type keep working.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("campaign", "persona")


def _move_content_types(apps, from_label: str, to_label: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        old = ContentType.objects.filter(app_label=from_label, model=model).first()
        if old is None:
            continue  # a fresh database: post_migrate creates the content type under its new label
        # A row under the new label can only be an empty one from an interrupted run; the old row, with its
        # permissions and log entries, wins.
        ContentType.objects.filter(app_label=to_label, model=model).delete()
        old.app_label = to_label
        old.save(update_fields=["app_label"])
    ContentType.objects.clear_cache()


def content_types_to_leads(apps, schema_editor) -> None:
    _move_content_types(apps, "campaigns", "leads")


def content_types_to_campaigns(apps, schema_editor) -> None:
    _move_content_types(apps, "leads", "campaigns")


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0002_personarule_attribution'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('leads', '0014_touch_type_list_import'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Persona',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                        ('role_title', models.CharField(blank=True, max_length=200, verbose_name='role / title')),
                        ('industry', models.CharField(blank=True, choices=[('manufacturing', 'Manufacturing'), ('it', 'IT / software'), ('finance', 'Finance / insurance'), ('retail', 'Retail / wholesale'), ('construction', 'Construction / real estate'), ('logistics', 'Logistics'), ('healthcare', 'Healthcare / welfare'), ('services', 'Professional services'), ('public', 'Public sector / education'), ('media', 'Media / advertising'), ('other', 'Other')], max_length=30, verbose_name='industry')),
                        ('company_size', models.CharField(blank=True, max_length=100, verbose_name='company size')),
                        ('age_range', models.CharField(blank=True, max_length=50, verbose_name='age range')),
                        ('pains', models.TextField(blank=True, verbose_name='pains')),
                        ('goals', models.TextField(blank=True, verbose_name='goals')),
                        ('information_sources', models.TextField(blank=True, verbose_name='where they get information')),
                        ('awareness_stage', models.CharField(blank=True, choices=[('latent', 'Unaware (latent)'), ('semi', 'Researching (semi-aware)'), ('manifest', 'Comparing solutions (aware)')], max_length=20, verbose_name='awareness stage')),
                        ('notes', models.TextField(blank=True, verbose_name='notes')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ],
                    options={
                        'verbose_name': 'persona',
                        'verbose_name_plural': 'personas',
                        'db_table': 'campaigns_persona',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='Campaign',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, verbose_name='name')),
                        ('channel', models.CharField(choices=[('web_ad', 'Web ads'), ('sns', 'Social media'), ('seo', 'SEO / blog'), ('whitepaper', 'Whitepaper'), ('webinar', 'Webinar'), ('seminar', 'Seminar'), ('trade_show', 'Trade show'), ('email', 'Email newsletter'), ('offline', 'TV / offline'), ('referral', 'Referral'), ('other', 'Other')], max_length=20, verbose_name='channel')),
                        ('objective', models.CharField(choices=[('awareness', 'Awareness'), ('lead_generation', 'Lead generation'), ('nurturing', 'Nurturing')], default='lead_generation', max_length=20, verbose_name='objective')),
                        ('status', models.CharField(choices=[('planned', 'Planned'), ('active', 'Active'), ('paused', 'Paused'), ('done', 'Done')], default='planned', max_length=20, verbose_name='status')),
                        ('awareness_stage', models.CharField(blank=True, choices=[('latent', 'Unaware (latent)'), ('semi', 'Researching (semi-aware)'), ('manifest', 'Comparing solutions (aware)')], max_length=20, verbose_name='target awareness stage')),
                        ('start_date', models.DateField(blank=True, null=True, verbose_name='start date')),
                        ('end_date', models.DateField(blank=True, null=True, verbose_name='end date')),
                        ('budget', models.DecimalField(decimal_places=0, default=0, max_digits=14, verbose_name='budget')),
                        ('utm_campaign', models.CharField(blank=True, help_text='Touches whose utm_campaign equals this code are linked to the campaign.', max_length=100, verbose_name='UTM campaign code')),
                        ('utm_source', models.CharField(blank=True, max_length=100, verbose_name='UTM source')),
                        ('utm_medium', models.CharField(blank=True, max_length=100, verbose_name='UTM medium')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='campaigns', to=settings.AUTH_USER_MODEL, verbose_name='owner')),
                        ('personas', models.ManyToManyField(blank=True, related_name='campaigns', to='leads.persona', verbose_name='target personas')),
                    ],
                    options={
                        'verbose_name': 'campaign',
                        'verbose_name_plural': 'campaigns',
                        'db_table': 'campaigns_campaign',
                        'ordering': ['-start_date', 'name'],
                        'constraints': [
                            models.UniqueConstraint(condition=models.Q(('utm_campaign', ''), _negated=True), fields=('utm_campaign',), name='campaign_utm_unique', violation_error_message='Another campaign already uses this UTM code.'),
                            models.CheckConstraint(condition=models.Q(('end_date__isnull', True), ('start_date__isnull', True), ('end_date__gte', models.F('start_date')), _connector='OR'), name='campaign_dates_ordered'),
                            models.CheckConstraint(condition=models.Q(('budget__gte', 0)), name='campaign_budget_not_negative'),
                        ],
                    },
                ),
                migrations.AlterField(
                    model_name='formendpoint',
                    name='campaign',
                    field=models.ForeignKey(blank=True, help_text='Submissions are linked to this campaign unless their UTM campaign names another.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='form_endpoints', to='leads.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='handoff',
                    name='campaign',
                    field=models.ForeignKey(blank=True, help_text="The lead's first-touch campaign when it was handed over.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='handoffs', to='leads.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='importjob',
                    name='campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='import_jobs', to='leads.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='lead',
                    name='first_touch_campaign',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='first_touch_leads', to='leads.campaign', verbose_name='first-touch campaign'),
                ),
                migrations.AlterField(
                    model_name='touch',
                    name='campaign',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='touches', to='leads.campaign', verbose_name='campaign'),
                ),
                migrations.AlterField(
                    model_name='lead',
                    name='persona',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='leads', to='leads.persona', verbose_name='persona'),
                ),
            ],
        ),
        migrations.RunPython(content_types_to_leads, content_types_to_campaigns),
    ]
