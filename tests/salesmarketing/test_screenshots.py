"""scripts/screenshots against the live server: one role, one language, one width, two pages."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

pytestmark = pytest.mark.browser

SCRIPT = Path(django_settings.BASE_DIR) / "scripts" / "screenshots.py"


def test_the_screenshot_script_writes_a_png_of_each_page(
    live_server, settings, tmp_path, browser_type_launch_args
):
    # browser_type_launch_args skips (or, in CI, fails) the test where Chromium is missing.
    settings.DEBUG = True  # seed_demo refuses to run otherwise; the pages themselves do not depend on it
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    command = [sys.executable, str(SCRIPT), "--url", live_server.url, "--out", str(tmp_path)]
    command += ["--roles", "sales-rep", "--langs", "en", "--widths", "390", "--pages", "dashboard,lead"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "sales-rep" / "en-390"
    pngs = sorted(p.name for p in folder.iterdir())
    assert pngs == ["dashboard.png", "lead.png"]
    for png in folder.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert str(tmp_path) in done.stdout  # it says where it wrote them
