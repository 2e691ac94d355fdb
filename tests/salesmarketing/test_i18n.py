"""Every UI string has its Japanese, and the committed compiled catalogs match their sources."""

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.template import Context, Template
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _catalog(lang: str):
    with open(LOCALE / lang / "LC_MESSAGES" / "django.po", "rb") as f:
        return read_po(f, locale=lang)


def test_japanese_catalog_has_no_untranslated_or_fuzzy_entries():
    catalog = _catalog("ja")
    assert not catalog.fuzzy, "the catalog header is marked fuzzy, so it would not be compiled"
    missing = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert missing == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_compiled_catalog_matches_its_source(lang):
    catalog = _catalog(lang)
    with open(LOCALE / lang / "LC_MESSAGES" / "django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in catalog:
        if not message.id or not message.string or isinstance(message.id, tuple):
            continue
        key = f"{message.context}\x04{message.id}" if message.context else message.id
        assert compiled._catalog.get(key) == message.string, (
            f"{lang}: {message.id!r} is stale: run scripts/i18n"
        )


def test_yen_and_percentages_follow_the_viewers_language():
    template = Template("{% load sm %}{{ amount|yen }} {{ ratio|pct }} {{ missing|yen }} {{ missing|pct }}")
    context = Context({"amount": 1234567.5, "ratio": 0.25666, "missing": None})
    with translation.override("ja"):
        assert template.render(context) == "1,234,568円 25.7% — —"  # rounded half up, not cut off
    with translation.override("en"):
        assert template.render(context) == "¥1,234,568 25.7% — —"


@pytest.mark.django_db
def test_pages_switch_language(owner_client):
    assert "ダッシュボード" in owner_client.get("/").content.decode()
    owner_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "<h1>Dashboard</h1>" in owner_client.get("/").content.decode()
