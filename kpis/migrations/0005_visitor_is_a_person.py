# Unique visitors count people (issue #17): a page view's visitor is its lead when it has one, whatever tracking
# id or none it came with, and only an unidentified tracking id stands for itself. Before, a lead with a cookie
# who also sent an email-only page view was two visitors (its cookie id and "lead:<id>").
#
# The roll-up's key changes accordingly, so it must also follow the page views that change hands: ingestion moves
# a visitor's anonymous page views to its lead when it identifies (UPDATE of lead_id), and an erasure deletes page
# views. A row trigger on those (few) rows removes the old key from a period where no page view of it is left and
# adds the new one, keeping VisitorCount's deltas exact; inserts keep the statement trigger of 0002/0003. Then the
# roll-up is rebuilt under the new key (about a minute and a half at 10M page views, as visitors_rebuild).

from django.db import migrations

KEY = "CASE WHEN {t}.lead_id IS NOT NULL THEN 'lead:' || {t}.lead_id ELSE {t}.visitor_id END"
OLD_KEY = "CASE WHEN {t}.visitor_id <> '' THEN {t}.visitor_id ELSE 'lead:' || {t}.lead_id END"


def select_touches(key: str, touches: str) -> str:
    return f"""
    SELECT DISTINCT k.kind, k.start, v.visitor
    FROM (
        SELECT {key.format(t=touches)} AS visitor, (occurred_at AT TIME ZONE 'Asia/Tokyo')::date AS day
        FROM {touches}
        WHERE type = 'page_view' AND (visitor_id <> '' OR lead_id IS NOT NULL)
    ) v
    CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', v.day)::date),
                               ('month', date_trunc('month', v.day)::date),
                               ('quarter', date_trunc('quarter', v.day)::date)) k (kind, start)
"""


def add_function(key: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION kpis_visitor_period_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH added AS (
        INSERT INTO kpis_visitorperiod (kind, start, visitor) {select_touches(key, "new_touches")}
        ON CONFLICT DO NOTHING
        RETURNING kind, start
    )
    INSERT INTO kpis_visitorcount (kind, start, visitors)
    SELECT kind, start, count(*) FROM added GROUP BY kind, start;
    RETURN NULL;
END $$;
"""


def rebuild(key: str) -> str:
    return f"""
TRUNCATE kpis_visitorperiod, kpis_visitorcount;
INSERT INTO kpis_visitorperiod (kind, start, visitor) {select_touches(key, "leads_touch")} ORDER BY 1, 2, 3;
INSERT INTO kpis_visitorcount (kind, start, visitors)
SELECT kind, start, count(*) FROM kpis_visitorperiod GROUP BY kind, start;
"""


# The periods of one page view: (kind, first day, first instant, end instant), Tokyo days.
PERIODS_OF = """
    (SELECT kind, start, (start::timestamp AT TIME ZONE 'Asia/Tokyo') AS lo,
            ((start + span)::timestamp AT TIME ZONE 'Asia/Tokyo') AS hi
     FROM (VALUES ('week', date_trunc('week', {day})::date, interval '1 week'),
                  ('month', date_trunc('month', {day})::date, interval '1 month'),
                  ('quarter', date_trunc('quarter', {day})::date, interval '3 months')) x (kind, start, span)) k
"""

MOVE = f"""
CREATE FUNCTION kpis_visitor_period_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    day date;
    visitor text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.type = 'page_view' THEN
        -- The old visitor leaves each period of this page view where none of its page views is left (each probe
        -- reads one index: the lead's touches, or the anonymous ones of the tracking id).
        day := (OLD.occurred_at AT TIME ZONE 'Asia/Tokyo')::date;
        IF OLD.lead_id IS NOT NULL THEN
            WITH gone AS (
                DELETE FROM kpis_visitorperiod p USING {PERIODS_OF.format(day="day")}
                WHERE p.kind = k.kind AND p.start = k.start AND p.visitor = 'lead:' || OLD.lead_id
                  AND NOT EXISTS (SELECT 1 FROM leads_touch t
                                  WHERE t.lead_id = OLD.lead_id AND t.type = 'page_view'
                                    AND t.occurred_at >= k.lo AND t.occurred_at < k.hi)
                RETURNING p.kind, p.start
            )
            INSERT INTO kpis_visitorcount (kind, start, visitors)
            SELECT kind, start, -count(*) FROM gone GROUP BY kind, start;
        ELSE
            WITH gone AS (
                DELETE FROM kpis_visitorperiod p USING {PERIODS_OF.format(day="day")}
                WHERE p.kind = k.kind AND p.start = k.start AND p.visitor = OLD.visitor_id
                  AND NOT EXISTS (SELECT 1 FROM leads_touch t
                                  WHERE t.lead_id IS NULL AND t.visitor_id = OLD.visitor_id
                                    AND t.type = 'page_view' AND t.occurred_at >= k.lo AND t.occurred_at < k.hi)
                RETURNING p.kind, p.start
            )
            INSERT INTO kpis_visitorcount (kind, start, visitors)
            SELECT kind, start, -count(*) FROM gone GROUP BY kind, start;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.type = 'page_view' THEN
        day := (NEW.occurred_at AT TIME ZONE 'Asia/Tokyo')::date;
        visitor := {KEY.format(t="NEW")};
        WITH added AS (
            INSERT INTO kpis_visitorperiod (kind, start, visitor)
            SELECT k.kind, k.start, visitor FROM {PERIODS_OF.format(day="day")}
            ON CONFLICT DO NOTHING
            RETURNING kind, start
        )
        INSERT INTO kpis_visitorcount (kind, start, visitors)
        SELECT kind, start, count(*) FROM added GROUP BY kind, start;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER kpis_visitor_period_move AFTER UPDATE OF lead_id, visitor_id, type, occurred_at ON leads_touch
    FOR EACH ROW
    WHEN ((OLD.type = 'page_view' OR NEW.type = 'page_view')
          AND (OLD.lead_id IS DISTINCT FROM NEW.lead_id OR OLD.visitor_id IS DISTINCT FROM NEW.visitor_id
               OR OLD.type IS DISTINCT FROM NEW.type OR OLD.occurred_at IS DISTINCT FROM NEW.occurred_at))
    EXECUTE FUNCTION kpis_visitor_period_move();
CREATE TRIGGER kpis_visitor_period_remove AFTER DELETE ON leads_touch
    FOR EACH ROW WHEN (OLD.type = 'page_view') EXECUTE FUNCTION kpis_visitor_period_move();
"""

FORWARD = add_function(KEY) + MOVE + rebuild(KEY)

BACKWARD = (
    """
DROP TRIGGER IF EXISTS kpis_visitor_period_move ON leads_touch;
DROP TRIGGER IF EXISTS kpis_visitor_period_remove ON leads_touch;
DROP FUNCTION IF EXISTS kpis_visitor_period_move();
"""
    + add_function(OLD_KEY)
    + rebuild(OLD_KEY)
)


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0004_kpiday"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD)),
    ]
