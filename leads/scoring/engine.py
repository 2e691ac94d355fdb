"""Set-based scoring in SQL (PostgreSQL and SQLite).

engagement = Σ over matching touches of points × 0.5^(age / half-life of the rule), each rule group capped;
fit        = Σ points of the fit rules the lead and its company match, each rule group capped;
total      = fit + engagement (engagement rounded to whole points).

One statement aggregates and updates a whole batch of leads (a list of ids or an id range); nothing loops over
rows in Python. Running it twice gives the same scores (at the same `now`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from leads.models import ScoringGroup, ScoringRule

ENGAGEMENT = "engagement"
FIT = "fit"


def _sql(vendor: str) -> dict[str, str]:
    if vendor == "postgresql":
        return {
            "epoch": "EXTRACT(EPOCH FROM {})::float8",  # numeric arithmetic would be ten times slower
            "domain": "LOWER(SPLIT_PART({}, '@', 2))",
            "prop": "(t.properties ->> r.property_key)",
        }
    return {
        "epoch": "((julianday({}) - 2440587.5) * 86400.0)",
        "domain": "LOWER(substr({0}, instr({0}, '@') + 1))",
        "prop": "json_extract(t.properties, '$.' || r.property_key)",
    }


@dataclass(frozen=True)
class LeadFilter:
    """Which leads a statement covers: explicit ids, or an inclusive id range."""

    ids: tuple[int, ...] | None = None
    first_id: int | None = None
    last_id: int | None = None

    def sql(self, column: str) -> tuple[str, list]:
        if self.ids is not None:
            if not self.ids:
                return "1 = 0", []
            return f"{column} IN ({', '.join(['%s'] * len(self.ids))})", list(self.ids)
        return f"{column} BETWEEN %s AND %s", [self.first_id, self.last_id]


def _engagement_rows_sql(
    sql: dict[str, str], lead_filter: LeadFilter, now: dt.datetime, *, decayed: bool = True
) -> tuple[str, list]:
    """One row per (lead, touch, rule) match with lead_id, rule_id and its decayed points `pts` (undecayed: the
    rule's points with the touch's occurred_at and the rule's half_life, to decay later).

    The batch's touches are read once (through the lead index) into a materialized CTE, and rules that name a
    touch type join them by equality (a hash join) instead of testing every rule against every touch.
    """
    where, params = lead_filter.sql("lead_id")
    params = [*params, now]
    like_escaped = "REPLACE(REPLACE(REPLACE(LOWER(url_contains), '\\', '\\\\'), '%%', '\\%%'), '_', '\\_')"
    if decayed:
        age = f"(CAST(%s AS DOUBLE PRECISION) - {sql['epoch'].format('t.occurred_at')})"
        points = f"r.points * POWER(0.5, {age} / (r.half_life_days * 86400.0)) AS pts"
        params += [now.timestamp(), now.timestamp()]
    else:
        points = "r.points AS pts, t.occurred_at AS occurred_at, r.half_life_days AS half_life"
    # URLs and patterns are lowered once each, so the match is a plain LIKE (ILIKE is slow on UTF-8 text).
    extra = f"""(r.url_pattern IS NULL OR t.url_lower LIKE r.url_pattern ESCAPE '\\')
             AND (r.property_key = '' OR {sql["prop"]} = r.property_value)"""
    text = f"""
        WITH bt AS MATERIALIZED (
            SELECT lead_id, type, LOWER(url) AS url_lower, properties, occurred_at FROM leads_touch
            WHERE {where} AND occurred_at <= %s
        ), er AS MATERIALIZED (
            SELECT id, touch_type, property_key, property_value, points, half_life_days,
                   CASE WHEN url_contains = '' THEN NULL ELSE '%%' || {like_escaped} || '%%' END AS url_pattern
            FROM leads_scoringrule WHERE kind = 'engagement' AND is_active
        )
        SELECT t.lead_id AS lead_id, r.id AS rule_id, {points}
        FROM bt t JOIN er r ON r.touch_type = t.type WHERE {extra}
        UNION ALL
        SELECT t.lead_id AS lead_id, r.id AS rule_id, {points}
        FROM bt t JOIN er r ON r.touch_type = '' WHERE {extra}
    """
    return text, params


def _fit_rows_sql(
    sql: dict[str, str], lead_filter: LeadFilter, rules: Iterable[ScoringRule] | None = None
) -> tuple[str, list]:
    """One row per (lead, fit rule) match with lead_id, rule_id and `pts` (the active fit rules among `rules`
    when the caller has read them already).

    The batch's leads, with the company fields the rules read, are materialized once; each active fit rule then
    becomes its own simple predicate over them (`title LIKE '%部長%'`, `industry IN (…)`), joined by UNION ALL,
    so no lead is tested against rules of other fields and lists are compared by equality.
    """
    where, params = lead_filter.sql("l.id")
    domain = sql["domain"].format("l.email")
    branches: list[str] = []
    branch_params: list = []
    if rules is None:
        rules = ScoringRule.objects.filter(kind=FIT, is_active=True)
    rules = [
        (r.pk, r.field, r.operator, r.value, r.number, r.points)
        for r in rules
        if r.kind == FIT and r.is_active
    ]
    for rule_id, field, operator, value, number, points in rules:
        predicate, values = _fit_predicate(field, operator, value, number)
        if predicate:
            branches.append(f"SELECT id AS lead_id, %s AS rule_id, %s AS pts FROM bl WHERE {predicate}")
            branch_params += [rule_id, points, *values]
    if not branches:
        branches.append("SELECT id AS lead_id, id AS rule_id, 0 AS pts FROM bl WHERE 1 = 0")
    text = f"""
        WITH bl AS MATERIALIZED (
            SELECT l.id, LOWER(l.title) AS title, l.title AS title_exact, LOWER(l.department) AS department,
                   {domain} AS domain, c.employee_count, c.industry, c.region
            FROM leads_lead l LEFT JOIN leads_company c ON c.id = l.company_id WHERE {where}
        )
        {" UNION ALL ".join(branches)}
    """
    return text, [*params, *branch_params]


def _fit_predicate(field: str, operator: str, value: str, number: int | None) -> tuple[str, list]:
    """The SQL condition of one fit rule over the `bl` columns, and its parameters ("" for a rule that cannot
    match, such as a number rule without a number)."""
    if field in ("title", "department") and operator == "contains" and value:
        escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{field} LIKE %s ESCAPE '\\'", [f"%{escaped}%"]
    if field == "title" and operator == "equals":
        return "title_exact = %s", [value]
    if field == "employees" and number is not None and operator in ("gte", "lt"):
        return f"employee_count {'>=' if operator == 'gte' else '<'} %s", [number]
    if field in ("industry", "region", "email_domain") and operator in ("equals", "in"):
        items = [item for item in value.replace(" ", "").lower().split(",") if item]
        if items:
            column = "domain" if field == "email_domain" else field
            return f"{column} IN ({', '.join(['%s'] * len(items))})", items
    return "", []


def _capped_sql(rows_sql: str) -> str:
    """Per lead: the sum over rule groups of min(group points, group cap) (a rule without a group is its own)."""
    return f"""
        SELECT lead_id, SUM(CASE WHEN cap IS NULL OR pts < cap THEN pts ELSE cap END) AS pts FROM (
            SELECT x.lead_id, COALESCE(r.group_id, -r.id) AS gk, MAX(g.cap) AS cap, SUM(x.pts) AS pts
            FROM (SELECT lead_id, rule_id, SUM(pts) AS pts FROM ({rows_sql}) m GROUP BY lead_id, rule_id) x
            JOIN leads_scoringrule r ON r.id = x.rule_id
            LEFT JOIN leads_scoringgroup g ON g.id = r.group_id
            GROUP BY x.lead_id, COALESCE(r.group_id, -r.id)
        ) capped GROUP BY lead_id
    """


def score_leads(
    lead_filter: LeadFilter, *, now: dt.datetime | None = None, only_changed: bool = False
) -> int:
    """Recompute fit, engagement and total for the leads in `lead_filter` in one statement, and the time of each
    written lead's latest touch (`last_touch_at`: ingestion leaves it to this rewrite of the row, which follows
    every batch of touches). Returns rows written.

    `only_changed` skips rows whose scores did not move (the nightly full rescore); incremental scoring writes
    every row so that `scored_at` records that the lead's latest touches were seen.
    """
    now = now or timezone.now()
    sql = _sql(connection.vendor)
    eng_sql, eng_params = _engagement_rows_sql(sql, lead_filter, now)
    fit_sql, fit_params = _fit_rows_sql(sql, lead_filter)
    lead_where, lead_params = lead_filter.sql("l.id")
    target_where, target_params = lead_filter.sql("leads_lead.id")
    changed = (
        "AND (leads_lead.fit_score <> s.fit OR leads_lead.engagement_score <> s.eng)" if only_changed else ""
    )
    # The guard: a statement that started earlier (a long nightly batch) must not write its older reading of the
    # touches over the score a newer statement stored meanwhile (PostgreSQL re-checks it on the locked row).
    guard = "AND (leads_lead.scored_at IS NULL OR leads_lead.scored_at <= %s)"
    locked, lock_join, lock_params = "", "", []
    if connection.vendor == "postgresql":
        # The rows to write are locked in id order first, as event ingestion locks leads: an UPDATE alone locks
        # them in its join's order, which deadlocked with concurrent batches of events for the same leads.
        locked = f""",
        locked AS (
            SELECT leads_lead.id FROM leads_lead JOIN s ON s.id = leads_lead.id
            WHERE {target_where} {changed} {guard}
            ORDER BY leads_lead.id FOR NO KEY UPDATE OF leads_lead
        )"""
        lock_join, lock_params = "JOIN locked ON locked.id = s.id", [*target_params, now]
    statement = f"""
        WITH eng AS ({_capped_sql(eng_sql)}),
        fit AS ({_capped_sql(fit_sql)}),
        s AS (
            SELECT l.id AS id, CAST(COALESCE(fit.pts, 0) AS INTEGER) AS fit,
                   CAST(ROUND(COALESCE(eng.pts, 0)) AS INTEGER) AS eng
            FROM leads_lead l LEFT JOIN fit ON fit.lead_id = l.id LEFT JOIN eng ON eng.lead_id = l.id
            WHERE {lead_where} AND l.merged_into_id IS NULL
        ){locked}
        UPDATE leads_lead
        SET fit_score = s.fit, engagement_score = s.eng, total_score = s.fit + s.eng, scored_at = %s,
            last_touch_at = (SELECT MAX(t.occurred_at) FROM leads_touch t WHERE t.lead_id = leads_lead.id)
        FROM s {lock_join} WHERE leads_lead.id = s.id AND {target_where} {changed} {guard}
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.get_autocommit():
            cursor.execute("SET LOCAL work_mem = '64MB'")  # keep the batch's sorts and hashes in memory
        cursor.execute(
            statement, [*eng_params, *fit_params, *lead_params, *lock_params, now, *target_params, now]
        )
        return cursor.rowcount


@dataclass
class Contribution:
    rule_id: int
    name: str
    kind: str
    group: str
    matches: int
    points: float  # before the group cap
    counted: float = 0.0  # what it adds to the score once its group is capped


def explain(lead_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, list[Contribution]]:
    """Every rule that gave each lead points, with how many matches and points (before group caps), biggest first."""
    if not lead_ids:
        return {}
    now = now or timezone.now()
    sql = _sql(connection.vendor)
    lead_filter = LeadFilter(ids=tuple(lead_ids))
    eng_sql, eng_params = _engagement_rows_sql(sql, lead_filter, now)
    fit_sql, fit_params = _fit_rows_sql(sql, lead_filter)
    statement = f"""
        SELECT lead_id, rule_id, COUNT(*), SUM(pts) FROM ({eng_sql}) e GROUP BY lead_id, rule_id
        UNION ALL
        SELECT lead_id, rule_id, COUNT(*), SUM(pts) FROM ({fit_sql}) f GROUP BY lead_id, rule_id
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, [*eng_params, *fit_params])
        rows = cursor.fetchall()
    rules = ScoringRule.objects.in_bulk({row[1] for row in rows})
    groups = {g.pk: g for g in ScoringGroup.objects.all()}
    return _contributions(lead_ids, rows, rules, groups)


def _contributions(
    lead_ids: Iterable[int],
    rows: Iterable[tuple[int, int, int, float]],
    rules: Mapping[int, ScoringRule],
    groups: Mapping[int, ScoringGroup],
) -> dict[int, list[Contribution]]:
    """`explain`'s answer from its rows (lead_id, rule_id, matches, points) and the rules and groups they name."""
    result: dict[int, list[Contribution]] = {lead_id: [] for lead_id in lead_ids}
    for lead_id, rule_id, matches, points in rows:
        rule = rules.get(rule_id)
        if rule is None:  # switched on after the caller read the rules: it shows on the next view
            continue
        group = groups.get(rule.group_id) if rule.group_id is not None else None
        result[lead_id].append(
            Contribution(rule_id, rule.label, rule.kind, group.label if group else "", matches, float(points))
        )
    for items in result.values():
        items.sort(key=lambda c: (-abs(round(c.points)), -c.matches, c.name))
        room = {g.label: g.cap for g in groups.values() if g.cap is not None}
        for c in items:  # the biggest contributions fill their group's cap first
            if c.group in room and c.points > 0:
                c.counted = min(c.points, max(room[c.group], 0))
                room[c.group] -= c.counted
            else:
                c.counted = c.points
    return result


def explain_over_time(
    lead_id: int,
    *,
    now: dt.datetime,
    times: list[dt.datetime],
    rules: Mapping[int, ScoringRule],
    groups: Mapping[int, ScoringGroup],
) -> tuple[list[Contribution], list[float]]:
    """One lead's `explain` at `now`, and its engagement at each of `times` (each ≤ now: what `score_leads` run
    at that time would have given, before rounding), in one statement, with the active rules and the groups the
    caller read (the page reads them with its other panels).

    Each time's engagement is aggregated in SQL, whatever the number of touches: per (time, rule group), the
    matches up to that time decayed to it, then capped per group and summed.
    """
    vendor = connection.vendor
    sql = _sql(vendor)
    lead_filter = LeadFilter(ids=(lead_id,))
    eng_sql, eng_params = _engagement_rows_sql(sql, lead_filter, now, decayed=False)
    fit_sql, fit_params = _fit_rows_sql(sql, lead_filter, rules.values())
    at = "CAST(%s AS timestamptz)" if vendor == "postgresql" else "%s"
    if not times:
        raise ValueError("explain_over_time needs at least one time")
    times_sql = ", ".join(f"(CAST(%s AS INTEGER), {at}, CAST(%s AS DOUBLE PRECISION))" for _ in times)
    times_params = [
        p
        for i, moment in enumerate(times)
        for p in (i, connection.ops.adapt_datetimefield_value(moment), moment.timestamp())
    ]
    occurred = sql["epoch"].format("occurred_at")
    # Each match is decayed once, to `now` (d.v); its value at an earlier time t is v × 2^((now − t) / half-life),
    # so each time's sum per (rule group, half-life) needs one power, not one per match.
    statement = f"""
        WITH m AS ({eng_sql}), f AS ({fit_sql}), w(i, at, at_epoch) AS (VALUES {times_sql}),
        d AS (
            SELECT rule_id, occurred_at, half_life,
                   pts * POWER(0.5, (CAST(%s AS DOUBLE PRECISION) - {occurred}) / (half_life * 86400.0)) AS v
            FROM m
        )
        SELECT 0 AS part, rule_id AS k, COUNT(*) AS n, SUM(v) AS v FROM d GROUP BY rule_id
        UNION ALL
        SELECT 0, rule_id, COUNT(*), SUM(pts) FROM f GROUP BY rule_id
        UNION ALL
        SELECT 1, i, 0, SUM(CASE WHEN cap IS NULL OR pts < cap THEN pts ELSE cap END) FROM (
            SELECT i, gk, MAX(cap) AS cap,
                   SUM(v * POWER(2.0, (CAST(%s AS DOUBLE PRECISION) - at_epoch) / (half_life * 86400.0))) AS pts
            FROM (
                SELECT w.i AS i, w.at_epoch AS at_epoch, COALESCE(r.group_id, -r.id) AS gk, g.cap AS cap,
                       d.half_life AS half_life, SUM(d.v) AS v
                FROM d JOIN w ON d.occurred_at <= w.at
                JOIN leads_scoringrule r ON r.id = d.rule_id LEFT JOIN leads_scoringgroup g ON g.id = r.group_id
                GROUP BY w.i, w.at_epoch, COALESCE(r.group_id, -r.id), g.cap, d.half_life
            ) per_half_life GROUP BY i, gk
        ) per_group GROUP BY i
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, [*eng_params, *fit_params, *times_params, now.timestamp(), now.timestamp()])
        rows = cursor.fetchall()
    explained = [(lead_id, k, n, v) for part, k, n, v in rows if part == 0]
    engagement = [0.0] * len(times)
    for part, k, _n, v in rows:
        if part == 1:
            engagement[k] = float(v)
    return _contributions([lead_id], explained, rules, groups)[lead_id], engagement
