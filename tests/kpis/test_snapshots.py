"""Weekly snapshots: frozen once, never recomputed, and what the past week's meeting page shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kpis import services
from kpis.models import WeeklySnapshot
from kpis.periods import Period
from kpis.registry import DEFINITIONS_HASH, VERSIONS, compute
from kpis.tasks import freeze_weekly_snapshots
from leads.models import Lead
from leads.services import lead_upsert
from salesmarketing.models import Team
from tests.kpis.conftest import NOW, jst

pytestmark = pytest.mark.django_db
W47 = Period.parse("2026-W47")


def _review_value(html: str, key: str) -> str:
    match = re.search(rf'id="kpi-{key}".*?data-value>([^<]*)<', html, re.S)
    assert match, f"no row for {key}"
    return match.group(1).strip()


def _add_leads_in_w47(n: int) -> None:
    for i in range(n):
        lead, _created = lead_upsert(email=f"late{i}@example.jp", source="manual")
        Lead.objects.filter(pk=lead.pk).update(created_at=jst(11, 18, 12))


def test_freezing_a_week_stores_its_values_targets_and_definition_versions(kpi_data):
    snapshot, created = services.snapshot_freeze_week(week=W47, team=None, now=NOW)
    assert created
    assert snapshot.values == compute([W47], now=NOW)[0]
    assert (snapshot.iso_year, snapshot.iso_week, snapshot.week_start) == (2026, 47, dt.date(2026, 11, 16))
    assert snapshot.versions == VERSIONS and snapshot.definitions_hash == DEFINITIONS_HASH
    assert snapshot.context["month_label"] == "2026-11" and snapshot.context["quarter_label"] == "2026-Q4"
    assert snapshot.context["month_share"] == pytest.approx(22 / 30)  # 1 – 22 November of 30 days
    assert snapshot.context["month"]["leads_acquired"] == 4  # 1 – 22 November: l1 … l4 (l5 came on the 23rd)
    assert snapshot.frozen_at == NOW


def test_freezing_twice_changes_nothing_even_after_the_data_changed(kpi_data):
    first, _ = services.snapshot_freeze_week(week=W47, team=None, now=NOW)
    _add_leads_in_w47(4)
    again, created = services.snapshot_freeze_week(week=W47, team=None, now=NOW + dt.timedelta(days=1))
    assert not created
    assert again.pk == first.pk and again.values["leads_acquired"] == 3
    assert WeeklySnapshot.objects.count() == 1


def test_an_unfinished_week_is_not_frozen(kpi_data):
    with pytest.raises(ValueError, match="not over"):
        services.snapshot_freeze_week(week=W47, team=None, now=jst(11, 22, 23, 59))


def test_the_beat_task_freezes_the_last_weeks_per_team_once(kpi_data, frozen_now):
    teams = Team.objects.count()
    made = freeze_weekly_snapshots.delay().get()
    assert made == 4 * (1 + teams)  # the last four finished weeks, for everyone and for each team
    assert freeze_weekly_snapshots.delay().get() == 0
    assert WeeklySnapshot.objects.count() == made
    t1 = WeeklySnapshot.objects.get(week_start=W47.start, team=kpi_data.t1)
    assert t1.values["leads_acquired"] == 1  # the team's own numbers


def test_the_past_weeks_page_shows_the_frozen_numbers_after_the_data_changed(
    client, manager, kpi_data, frozen_now
):
    services.snapshot_freeze_week(week=W47, team=None, now=NOW)
    _add_leads_in_w47(4)
    assert compute([W47], fresh=True)[0]["leads_acquired"] == 7  # the live number moved …
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _review_value(html, "leads_acquired") == "3"  # … the meeting's did not
    assert "Frozen at" in html


def test_an_unfrozen_past_week_is_computed_and_says_so(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _review_value(html, "leads_acquired") == "3"
    assert _review_value(html, "opportunities_marketing_sourced") == "2"  # D1 D2; D4 is self-reported
    assert "Not frozen" in html


def test_the_page_says_which_definitions_changed_since_the_week_was_frozen(
    client, manager, kpi_data, frozen_now
):
    snapshot, _ = services.snapshot_freeze_week(week=W47, team=None, now=NOW)
    snapshot.versions = {**snapshot.versions, "win_rate": VERSIONS["win_rate"] - 1}
    snapshot.save(update_fields=["versions"])
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    win_rate_row = re.search(r'id="kpi-win_rate".*?</tr>', html, re.S).group(0)
    assert "definition changed" in win_rate_row
    revenue_row = re.search(r'id="kpi-revenue".*?</tr>', html, re.S).group(0)
    assert "definition changed" not in revenue_row


def test_last_week_column_uses_last_weeks_snapshot(client, manager, kpi_data, frozen_now):
    services.snapshot_freeze_week(week=W47.previous(), team=None, now=NOW)
    _add_leads_in_w47(0)
    Lead.objects.filter(email="l2@one.example.jp").update(created_at=jst(11, 20, 9))  # moved into W47 later
    client.force_login(manager)
    html = client.get("/kpis/weekly/?week=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(r'id="kpi-leads_acquired".*?</tr>', html, re.S).group(0)
    cells = re.findall(r'<td class="num">(?:<a[^>]*>)?([^<]*)<', row)
    assert cells[0].strip() == "4"  # this week, live
    assert cells[1].strip() == "1"  # last week as the W46 meeting saw it
