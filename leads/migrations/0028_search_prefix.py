"""Prefix indexes for the search's short terms (leads/search/query.py): one or two characters (田中) cannot use the
trigram indexes (0020_search_trigram), so they match the start of a lead's name or kana and of a company's name,
through their match keys. A btree with a pattern operator class serves `LIKE '田中%'` whatever the database's
collation (the match keys' own indexes, for equality, are partial and in collation order). PostgreSQL only: on
SQLite the search compares the same way, without an index."""

from django.db import migrations

INDEXES = {
    "leads_lead_name_key_prefix": ("leads_lead", '"name_key" varchar_pattern_ops'),
    "leads_lead_kana_key_prefix": ("leads_lead", '"kana_key" varchar_pattern_ops'),
    "leads_company_name_key_prefix": ("leads_company", '"name_key" varchar_pattern_ops'),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({column})')


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("leads", "0027_company_owner")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
