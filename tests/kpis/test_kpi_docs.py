"""docs/kpis.md: one entry per KPI in Japanese and English, served at /kpis/definitions/, where each dashboard
card's "?" points; the README links it and nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from kpis.periods import Period
from kpis.registry import HEADLINE, KPIS

W47 = Period.parse("2026-W47")

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")


def _entry(key: str) -> str:
    """The entry of one KPI: from its heading to the next heading."""
    match = re.search(rf'^### <a id="{re.escape(key)}"></a>(.*?)(?=^##)', DOCS + "\n##", re.M | re.S)
    assert match, f"docs/kpis.md has no entry for {key}"
    return match.group(1)


@pytest.mark.parametrize("kpi", KPIS, ids=lambda kpi: kpi.key)
def test_every_kpi_has_an_entry_in_japanese_and_english(kpi):
    entry = _entry(kpi.key)
    heading = entry.splitlines()[0]
    assert kpi.name_ja in heading
    assert re.search(r"[぀-ヿ一-鿿]", entry.split("\n", 1)[1])  # a Japanese rule
    assert re.search(r"^- \(?[A-Z][a-z]", entry, re.M)  # and an English one


def test_the_docs_name_no_kpi_the_registry_does_not_have():
    assert set(re.findall(r'^### <a id="([a-z_]+)"></a>', DOCS, re.M)) == {kpi.key for kpi in KPIS}


@pytest.mark.django_db
def test_the_page_renders_the_docs_with_an_anchor_per_kpi(client, owner):
    client.force_login(owner)
    response = client.get(reverse("kpis:definitions"))
    assert response.status_code == 200
    html = response.content.decode()
    for kpi in KPIS:
        assert f'<a id="{kpi.key}"></a>' in html
    assert "<h3>" in html and "<script" not in html.split('<article class="kpi-docs">')[1]


@pytest.mark.django_db
def test_each_card_and_row_of_the_dashboard_links_to_its_entry(client, manager, kpi_data, frozen_now):
    client.force_login(manager)
    html = client.get(f"/?period={W47.label}").content.decode()
    for kpi in HEADLINE:
        card = re.search(rf'id="card-{kpi.key}".*?</article>', html, re.S).group(0)
        assert f'href="{reverse("kpis:definitions")}#{kpi.key}"' in card, kpi.key
    for kpi in KPIS:
        if not kpi.headline and not kpi.auxiliary:
            row = re.search(rf'id="row-{kpi.key}".*?</tr>', html, re.S).group(0)
            assert f'href="{reverse("kpis:definitions")}#{kpi.key}"' in row, kpi.key


def test_the_readme_links_the_kpi_docs_and_nothing_outside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/kpis.md)" in readme
    assert "../" not in readme
    for target in re.findall(r"\]\(([^)#]+)", readme):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), target
