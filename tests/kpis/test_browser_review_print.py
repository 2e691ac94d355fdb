"""The weekly review on paper: printed (or saved as PDF from the Print button) on A4, the KPI table starts on the
first page under the title, no section title is left alone at the foot of a page, and no yen amount wraps.
Chromium prints the page with its print styles (page.pdf), and poppler's pdftotext reads the PDF back."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from django.core.management import call_command

from salesmarketing.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_data(settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise; the pages themselves do not depend on it
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False


def _pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "review.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]  # one form feed after each page


@pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="pdftotext (Debian's poppler-utils) is not installed"
)
def test_the_weekly_review_prints_on_as_few_a4_pages_as_it_needs(page, live_server, demo_data, tmp_path):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "sales_mgr")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/kpis/weekly/")
    page.wait_for_load_state("networkidle")
    first_kpi = page.locator("#review-kpis tbody tr th").first.inner_text().split("\n")[0].strip()

    page.emulate_media(media="print")
    pages = _pages(page.pdf(prefer_css_page_size=True, print_background=True), tmp_path)

    assert first_kpi in pages[0], "the KPI table does not start on the first page"
    for number, text in enumerate(pages, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert not [line for line in lines if line.startswith("円")], (
            f"page {number}: an amount wraps before 円"
        )
        assert not [line for line in lines if re.search(r"\d,$", line)], f"page {number}: an amount wraps"
    # No page but the last is left nearly empty (a block that jumped to the next page leaves a gap behind it).
    filled = [len([line for line in text.splitlines() if line.strip()]) for text in pages[:-1]]
    assert all(n >= 10 for n in filled), f"lines per page: {filled}"
