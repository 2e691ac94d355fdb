"""The KPI definitions page: docs/kpis.md as HTML."""

from __future__ import annotations

import functools

from django.conf import settings
from markdown_it import MarkdownIt

# --- the definitions page -----------------------------------------------------------------------------------

KPI_DOCS = settings.BASE_DIR / "docs" / "kpis.md"


@functools.cache
def kpi_definitions_html() -> str:
    """docs/kpis.md as HTML: the definitions in the project's own words, one entry per KPI with an anchor named by
    its key (the dashboard's "?" links there). Read once per process: the file ships with the code."""
    return (
        MarkdownIt("commonmark", {"html": True}).enable("table").render(KPI_DOCS.read_text(encoding="utf-8"))
    )
