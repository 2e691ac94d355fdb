"""The (status, closed_at) index covers the weekly review's lost deals: their side, cause, amount and team, so the
week's lost list and the four-week tally by side and cause are read from the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0013_deal_stage_cards_covering"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="deal",
            name="deal_status_closed_at_idx",
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["status", "closed_at"],
                include=("loss_side", "loss_cause", "amount", "team", "id"),
                name="deal_status_closed_cover_idx",
            ),
        ),
    ]
