"""Segments for "who visits vs who buys": seniority from job-title keywords and company size bands.

Both are SQL CASE expressions, so the roll-up groups millions of leads in the database; the labels live here too so
pages and SQL never disagree.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

UNKNOWN = ""

# Checked in this order: the first level whose keyword the title contains wins (本部長 is a director before 部長 is).
SENIORITY = [
    (
        "executive",
        _("Executives"),
        ["代表", "社長", "会長", "取締役", "役員", "執行役", "CEO", "CTO", "CIO", "CFO", "COO", "PRESIDENT"],
    ),
    (
        "director",
        _("Directors (部長 level)"),
        ["本部長", "部長", "室長", "工場長", "所長", "支店長", "DIRECTOR", "VP", "HEAD OF"],
    ),
    ("manager", _("Managers (課長 level)"), ["課長", "マネージャー", "マネジャー", "グループ長", "MANAGER"]),
    ("lead", _("Team leads (係長・主任)"), ["係長", "主任", "リーダー", "チーフ", "LEAD", "SUPERVISOR"]),
]
STAFF = "staff"
SENIORITY_LABELS = {key: label for key, label, _words in SENIORITY} | {
    STAFF: _("Staff"),
    UNKNOWN: _("Unknown"),
}

# (key, label, lowest employee count, highest or None)
SIZE_BANDS = [
    ("xs", _("1–49 employees"), 0, 49),
    ("s", _("50–299 employees"), 50, 299),
    ("m", _("300–999 employees"), 300, 999),
    ("l", _("1,000–4,999 employees"), 1000, 4999),
    ("xl", _("5,000+ employees"), 5000, None),
]
SIZE_LABELS = {key: label for key, label, _lo, _hi in SIZE_BANDS} | {UNKNOWN: _("Unknown")}


def seniority_sql(title: str) -> tuple[str, list[str]]:
    """CASE over UPPER(title) LIKE '%KEYWORD%' (Japanese is unaffected by UPPER; English matches any case)."""
    whens, params = [], []
    for key, _label, words in SENIORITY:
        conditions = " OR ".join(f"UPPER({title}) LIKE %s" for _ in words)
        whens.append(f"WHEN {conditions} THEN '{key}'")
        params += [f"%{word.upper()}%" for word in words]
    sql = f"CASE WHEN {title} IS NULL OR {title} = '' THEN '{UNKNOWN}' {' '.join(whens)} ELSE '{STAFF}' END"
    return sql, params


def seniority_of(title: str) -> str:
    """The same rule in Python, for one title (tests and small lists)."""
    if not title.strip():
        return UNKNOWN
    upper = title.upper()
    for key, _label, words in SENIORITY:
        if any(word.upper() in upper for word in words):
            return key
    return STAFF


def size_sql(employees: str) -> str:
    whens = []
    for key, _label, lo, hi in SIZE_BANDS:
        if hi is None:
            whens.append(f"WHEN {employees} >= {lo} THEN '{key}'")
        else:
            whens.append(f"WHEN {employees} <= {hi} THEN '{key}'")
    return f"CASE WHEN {employees} IS NULL THEN '{UNKNOWN}' {' '.join(whens)} ELSE '{UNKNOWN}' END"


# Score bands of the dashboard's distribution: [lo, hi) in steps of ten, and 100 and more.
SCORE_BANDS = [(lo, lo + 10) for lo in range(0, 100, 10)] + [(100, None)]


def warming_range(total_threshold: int) -> tuple[int, int]:
    """Scores counted as "warming up": within a quarter of the MQL threshold (at least 10 points) below it."""
    margin = max(10, total_threshold // 4)
    return max(0, total_threshold - margin), total_threshold
