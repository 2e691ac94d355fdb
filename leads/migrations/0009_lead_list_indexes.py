from django.db import migrations, models

# The lead list sorted by last touch (never touched last) reads this index in order and stops at a page.
# PostgreSQL only, and outside the model state: SQLite cannot create an index with NULLS LAST.
LAST_TOUCH = "CREATE INDEX IF NOT EXISTS lead_last_touch_idx ON leads_lead (last_touch_at DESC NULLS LAST, id DESC)"


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0008_erasurerecord"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_awareness_idx"),
        # the list's filters by stage and score are counted from this index alone
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["awareness_stage", "total_score"], name="lead_awareness_score_idx"),
        ),
        migrations.RunPython(
            _on_postgresql(LAST_TOUCH), _on_postgresql("DROP INDEX IF EXISTS lead_last_touch_idx")
        ),
    ]
