"""Trigram indexes for the search (leads/search): pg_trgm, and a GIN index on each searched column of leads and
companies, on exactly the expression the search compares — `UPPER(column::text)` for `icontains`, the digits of a
phone (leads.search.query.PhoneDigits) — so that a substring search, Japanese included, does not read the table.
PostgreSQL only: on SQLite the search is the same `icontains`, without an index."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

PHONE_DIGITS = "regexp_replace(translate(\"phone\", '０１２３４５６７８９', '0123456789'), '[^0-9]', '', 'g')"
INDEXES = {
    "leads_lead_name_trgm": ("leads_lead", 'UPPER(("name")::text)'),
    "leads_lead_name_kana_trgm": ("leads_lead", 'UPPER(("name_kana")::text)'),
    "leads_lead_email_trgm": ("leads_lead", 'UPPER(("email")::text)'),
    "leads_lead_phone_digits_trgm": ("leads_lead", PHONE_DIGITS),
    "leads_company_name_trgm": ("leads_company", 'UPPER(("name")::text)'),
    "leads_company_name_kana_trgm": ("leads_company", 'UPPER(("name_kana")::text)'),
    "leads_company_domain_trgm": ("leads_company", 'UPPER(("domain")::text)'),
    "leads_company_corporate_number_trgm": ("leads_company", 'UPPER(("corporate_number")::text)'),
}


class PostgreSQLTrigramExtension(TrigramExtension):
    """Django's extension operation checks the database on the way forward only: migrating back past this one on
    SQLite would ask SQLite for pg_extension."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (({expression}) gin_trgm_ops)')


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("leads", "0019_alter_formendpoint_touch_type_and_more")]

    operations = [
        PostgreSQLTrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
