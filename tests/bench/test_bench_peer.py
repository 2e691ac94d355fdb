"""The `peer` size and the open share of deals (issue #22): the peers' demo data keeps most deals open, so the
board-shaped pages are compared under a like-for-like load. Generated here at a tiny scale (--quick)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.bench.test_bench_smoke import ROOT, _bench_database_url
from tests.conftest import require_or_skip

sys.path.insert(0, str(ROOT))
from bench.generate import OPEN_SHARE, plan  # noqa: E402
from bench.run import page_budget  # noqa: E402


def test_the_peer_size_is_shaped_like_the_peers_data():
    peer = plan("peer")
    assert (peer["leads"], peer["companies"], peer["campaigns"], peer["reps"] + 3) == (20_000, 2_000, 50, 500)
    # ~7.5 % of leads accepted as deals, plus the sales-sourced ones: ~6k deals, two thirds of them open.
    deals = peer["leads"] * 75 // 1000 + peer["sales_deals"]
    assert 5_500 <= deals <= 6_500 and 3_600 <= deals * peer["open_share"] <= 4_400
    assert plan("l")["open_share"] == OPEN_SHARE["l"] == 0.05


def test_the_open_share_is_a_parameter_at_every_size():
    for size in ("s", "m", "l", "peer"):
        assert plan(size, open_share=0.3)["open_share"] == 0.3
    with pytest.raises(ValueError):
        plan("s", open_share=1.5)


def test_each_page_has_its_query_budget():
    assert page_budget("drag a card (HTMX move, manager)") == 6
    assert page_budget("deal detail (manager)") == page_budget("pipeline board (manager, all deals)") == 8
    assert page_budget("KPI dashboard (week)") == page_budget("marketing dashboard (90 days)") == 10
    assert page_budget("weekly review (last week, live)") == 12


def test_the_generator_makes_the_open_share_asked_for_at_a_tiny_peer_size():
    require_or_skip(
        connection.vendor == "postgresql", "the benchmarks measure PostgreSQL; DATABASE_URL is not PostgreSQL"
    )
    from bench.generate import drop_database, peek_meta

    url = _bench_database_url() + "_peer"
    try:
        done = subprocess.run(
            [sys.executable, "bench/generate.py", "--size", "peer", "--quick", "--open-share", "0.5",
             "--database-url", url],
            cwd=ROOT,
            # DEBUG is off in the generator: it needs a key as long as production's (the test run's is short)
            env={**{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}, "SECRET_KEY": "x" * 50},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        meta = peek_meta(url)
    finally:
        drop_database(url)
    assert meta["size"] == "peer" and meta["open_share"] == 0.5 and meta["users"] == 500
    assert 0.4 <= meta["open_deals"] / meta["deals"] <= 0.6
