"""Which days' KPI numbers a write changed: database triggers on the measured tables mark them in KpiMark.

Every insert, delete, or update of a measured column of leads, touches, handoffs, deals, quotes, lifecycle changes
and campaign costs marks the Asia/Tokyo days its timestamps fall on (before and after an update) with a new
generation, in the same transaction as the write, whoever makes it: a service, the API, an import, a task, the admin or raw SQL. The KPI
engine puts the generations of a period's days into its cache key (kpis.registry.engine), so a correction to last
March is seen at the next read of last March, a write of today at the next read of this week, and nothing else is
recomputed.

Marks are appended (kpis_kpimark), never updated: writers marking the same day, as all of today's do, never wait for
one another's commit. Beat folds them into one row per day (KpiDay) every minute (kpis.services.day_marks_fold).
Cost at ingest speed: inserts and deletes are marked once per statement on PostgreSQL (a transition table, a row per
distinct day), updates by a row trigger whose WHEN clause skips the rows whose measured columns did not change (a
rescore rewrites every lead and marks nothing). SQLite, the zero-setup default, marks row by row.

A change of whose a row is, and nothing else measured (a lead handed to a rep, a handoff re-assigned), changes
only team and owner numbers: it marks its days under the table's "whose" source (`whose()`), which only a team's
or an owner's values read. So a rescore handing thousands of old leads to reps leaves the company-wide trend
cached while it marks the months those leads were created in.

A measure that reads another column of these tables (kpis.registry.measures) adds it here, and a migration runs
`install()` again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import connections

MARKS = "kpis_kpimark"


@dataclass(frozen=True)
class Tracked:
    source: str  # the engine's name of the table (kpis.registry.measures)
    # each column placing a row in a period (a timestamp, or a date) → the other columns the measures placed by
    # it read (conditions, amounts, team scope): an update marks that column's days only when one of them changed
    days: dict[str, tuple[str, ...]]
    dates: tuple[str, ...] = ()  # the placing columns that already hold a local day
    owners: tuple[str, ...] = ()  # the columns saying whose the row is (kpis.registry.measures.SCOPE_LOOKUPS)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for day, deps in self.days.items() for c in (day, *deps)))

    def split(self, column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A placing column's columns: those every number reads (itself among them), and those saying whose."""
        deps = (column, *self.days[column])
        return tuple(c for c in deps if c not in self.owners), tuple(c for c in deps if c in self.owners)


def whose(source: str) -> str:
    """The source a change of whose the rows are is marked under (at most 10 characters, as KpiDay.source)."""
    return f"{source}@"


_DEAL_CREATED = ("source", "handoff_id", "contact_id", "owner_id", "team_id")
TRACKED: dict[str, Tracked] = {
    # merged_into_id: a merged lead leaves every count (leads.merge; Lead.objects has live leads only)
    "leads_lead": Tracked(
        "lead",
        days={"created_at": ("owner_id", "merged_into_id"), "mql_at": ("owner_id", "merged_into_id")},
        owners=("owner_id",),
    ),
    "leads_touch": Tracked("touch", days={"occurred_at": ("type", "visitor_id", "lead_id")}),
    "leads_handoff": Tracked(
        "handoff",
        days={
            "mql_at": ("state", "lead_id", "owner_id", "team_id"),
            "decided_at": ("state", "lead_id", "owner_id", "team_id"),
            "first_touch_at": ("assigned_at", "owner_id", "team_id"),
            "sla_due_at": ("first_touch_at", "owner_id", "team_id"),
        },
        owners=("owner_id", "team_id"),
    ),
    "pipeline_deal": Tracked(
        "deal",
        days={
            "created_at": _DEAL_CREATED,
            "closed_at": ("status", "won_amount", "company_id", *_DEAL_CREATED),
        },
        owners=("owner_id", "team_id"),
    ),
    "quotes_quote": Tracked(
        "quote", days={"sent_at": ("status", "deal_id"), "decided_at": ("status", "deal_id")}
    ),
    "campaigns_campaigncost": Tracked("cost", days={"date": ("amount", "campaign_id")}, dates=("date",)),
    # a lead's lifecycle history: "became X in the period" (新規顧客数), placed by the change
    "leads_lifecyclechange": Tracked("lifecycle", days={"at": ("to_stage", "lead_id")}),
}

# A deal made, deleted or moved to another handoff changes the cohort of the handoffs it came from (商談化率,
# placed by the handoff's mql_at): their days are marked too.
DEAL = "pipeline_deal"
DEAL_LINKS = ("handoff_id", "contact_id")
QUOTE = "quotes_quote"
LEAD = "leads_lead"
LIFECYCLE = "leads_lifecyclechange"


@dataclass(frozen=True)
class Child:
    """Rows counted for their parent's owner and team: a parent handed to another rep moves their days too."""

    table: str
    parent: str  # the child's column holding the parent's id
    scope: tuple[str, ...]  # the parent's columns that say whose it is


# A quote counts for its deal's team and owner, a lifecycle change for its lead's owner (and the owner's team): a
# parent handed to another rep marks its children's days under their "whose" source.
CHILDREN = {
    DEAL: Child(QUOTE, "deal_id", ("owner_id", "team_id")),
    LEAD: Child(LIFECYCLE, "lead_id", ("owner_id",)),
}


def _pg_day(column: str, row: str, spec: Tracked, *, owners: bool = False) -> str:
    day = f"{row}.{column}" if column in spec.dates else f"({row}.{column} AT TIME ZONE 'Asia/Tokyo')::date"
    return f"'{whose(spec.source) if owners else spec.source}', {day}"


def _pg_handoff_days(rows: str) -> str:
    # Two probes, not one OR: each reads its own index.
    return (
        "SELECT 'handoff', (h.mql_at AT TIME ZONE 'Asia/Tokyo')::date FROM leads_handoff h "
        f"WHERE h.id IN (SELECT handoff_id FROM {rows}) UNION ALL "
        "SELECT 'handoff', (h.mql_at AT TIME ZONE 'Asia/Tokyo')::date FROM leads_handoff h "
        f"WHERE h.lead_id IN (SELECT contact_id FROM {rows})"
    )


def _pg_child_days(child: Child, parent_id: str, owners: bool) -> str:
    spec = TRACKED[child.table]
    return " UNION ALL ".join(
        f"SELECT {_pg_day(column, 'c', spec, owners=owners)} FROM {child.table} c WHERE c.{child.parent} = {parent_id}"
        for column in spec.days
    )


def _pg_mark(days_sql: str) -> str:
    return f"""
        INSERT INTO {MARKS} (source, day, generation)
        SELECT s, d, nextval('kpis_kpiday_generation_seq')
        FROM (SELECT DISTINCT s, d FROM ({days_sql}) all_days (s, d)) days
        WHERE d IS NOT NULL;"""


def _changed(columns, distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


def _update_days(spec: Tracked, day, distinct: str) -> list[str]:
    """An update's days: each placing column's, before and after, when a column every number of them reads
    changed; and under the table's whose source when a column saying whose the row is changed."""
    return [
        f"SELECT {day(column, row, spec, owners=owners)} WHERE {_changed(columns, distinct)}"
        for column in spec.days
        for row in ("OLD", "NEW")
        for owners, columns in zip((False, True), spec.split(column), strict=True)
        if columns
    ]


def _pg_sql(spec: Tracked, table: str, tables: set[str]) -> list[str]:
    statement_days = " UNION ALL ".join(
        f"SELECT {_pg_day(column, 'r', spec)} FROM changed_rows r" for column in spec.days
    )
    if table == DEAL:
        statement_days += " UNION ALL " + _pg_handoff_days("changed_rows")
    row_days = " UNION ALL ".join(_update_days(spec, _pg_day, "IS DISTINCT FROM"))
    if table == DEAL:
        both = "(VALUES (OLD.handoff_id, OLD.contact_id), (NEW.handoff_id, NEW.contact_id)) r (handoff_id, contact_id)"
        row_days += f" UNION ALL SELECT s, d FROM ({_pg_handoff_days(both)}) links (s, d)"
        row_days += f" WHERE {_changed(DEAL_LINKS, 'IS DISTINCT FROM')}"
    if (child := CHILDREN.get(table)) is not None and child.table in tables:
        row_days += f" UNION ALL SELECT s, d FROM ({_pg_child_days(child, 'NEW.id', bool(spec.owners))}) children (s, d)"
        row_days += f" WHERE {_changed(child.scope, 'IS DISTINCT FROM')}"
    name = f"kpis_days_{table}"
    return [
        *_pg_drop(table),
        f"""CREATE FUNCTION {name}_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH changed_rows AS (SELECT * FROM new_rows) {_pg_mark(statement_days)}
    ELSE
        WITH changed_rows AS (SELECT * FROM old_rows) {_pg_mark(statement_days)}
    END IF;
    RETURN NULL;
END $$""",
        f"""CREATE FUNCTION {name}_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_mark(row_days)}
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_rows()",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_rows()",
        f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN ({_changed(spec.columns, 'IS DISTINCT FROM')}) EXECUTE FUNCTION {name}_row()",
    ]


def _pg_drop(table: str) -> list[str]:
    name = f"kpis_days_{table}"
    return [
        *(f"DROP TRIGGER IF EXISTS {name}_{op} ON {table}" for op in ("insert", "delete", "update")),
        f"DROP FUNCTION IF EXISTS {name}_rows()",
        f"DROP FUNCTION IF EXISTS {name}_row()",
    ]


# SQLite has no sequences; its writers take turns, so the highest generation yet, plus one, is new.
SQLITE_NEXT_GENERATION = (
    "SELECT coalesce(max(generation), 0) + 1 FROM "
    f"(SELECT generation FROM kpis_kpiday UNION ALL SELECT generation FROM {MARKS})"
)


def _sqlite_day(column: str, row: str, spec: Tracked, *, owners: bool = False) -> str:
    # Django keeps UTC text on SQLite; Asia/Tokyo has no daylight saving time.
    day = f"date({row}.{column})" if column in spec.dates else f"date({row}.{column}, '+9 hours')"
    return f"'{whose(spec.source) if owners else spec.source}' AS s, {day} AS d"


def _sqlite_sql(spec: Tracked, table: str, tables: set[str]) -> list[str]:
    statements = [*_sqlite_drop(table)]
    for op, rows, when in (
        ("insert", ("NEW",), ""),
        ("delete", ("OLD",), ""),
        ("update", ("OLD", "NEW"), f" WHEN {_changed(spec.columns, 'IS NOT')}"),
    ):
        days = " UNION ".join(
            _update_days(spec, _sqlite_day, "IS NOT")
            if op == "update"
            else [f"SELECT {_sqlite_day(column, row, spec)}" for column in spec.days for row in rows]
        )
        if table == DEAL:
            links = f" AND ({_changed(DEAL_LINKS, 'IS NOT')})" if op == "update" else ""
            for row in rows:
                days += (
                    f" UNION SELECT 'handoff', date(h.mql_at, '+9 hours') FROM leads_handoff h"
                    f" WHERE (h.id = {row}.handoff_id OR h.lead_id = {row}.contact_id){links}"
                )
        if op == "update" and (child := CHILDREN.get(table)) is not None and child.table in tables:
            days += "".join(
                f" UNION SELECT {_sqlite_day(column, 'c', TRACKED[child.table], owners=bool(spec.owners))} FROM {child.table} c"
                f" WHERE c.{child.parent} = NEW.id AND ({_changed(child.scope, 'IS NOT')})"
                for column in TRACKED[child.table].days
            )
        statements.append(
            f"""CREATE TRIGGER kpis_days_{table}_{op} AFTER {op.upper()} ON {table} FOR EACH ROW{when}
BEGIN
    INSERT INTO {MARKS} (source, day, generation)
    SELECT s, d, ({SQLITE_NEXT_GENERATION})
    FROM ({days})
    WHERE d IS NOT NULL;
END"""
        )
    return statements


def _sqlite_drop(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS kpis_days_{table}_{op}" for op in ("insert", "delete", "update")]


def install(connection, *, without: frozenset[str] = frozenset(), owners_apart: bool = True) -> None:
    """(Re)create the triggers of the tracked tables that exist: idempotent. An early migration runs this before
    a later app made its table (quotes); that app's own step (kpis 0006) runs it again once it exists. Nothing
    before the marks' table exists (kpis 0009 makes it, then runs this): until then a database keeps the triggers
    it has. `without`: tables left out as if untracked (a migration taking a table's tracking back);
    `owners_apart=False`: changes of whose a row is marked as any other (the triggers before kpis 0010)."""
    sql = _pg_sql if connection.vendor == "postgresql" else _sqlite_sql
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    existing = set(connection.introspection.table_names())
    if MARKS not in existing:
        return
    tables = (existing & set(TRACKED)) - without
    with connection.cursor() as cursor:
        for table in TRACKED:
            if table in tables:
                spec = TRACKED[table] if owners_apart else replace(TRACKED[table], owners=())
                for statement in sql(spec, table, tables):
                    cursor.execute(statement)


def uninstall(connection) -> None:
    drop = _pg_drop if connection.vendor == "postgresql" else _sqlite_drop
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in TRACKED:
            if table in tables:
                for statement in drop(table):
                    cursor.execute(statement)


def reinstall_on_sqlite(sender, using="default", **kwargs) -> None:
    """post_migrate: a later migration that alters a tracked table remakes it on SQLite, which drops its
    triggers; put them back (PostgreSQL alters tables in place and keeps them)."""
    connection = connections[using]
    if connection.vendor == "sqlite" and MARKS in connection.introspection.table_names():
        install(connection)
