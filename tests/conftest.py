"""Shared fixtures: standing users (owner, teammate, outsider), logged-in clients, Celery and browser."""

from __future__ import annotations

import logging
import os
import re
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from salesmarketing.celery import app as celery_app
from salesmarketing.models import User
from tests.salesmarketing.factories import TeamFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; ORM calls in browser tests stay synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _redis_url_for_worker(url: str, index: int) -> str:
    """The Redis URL of xdist worker `index`: database N + index of the URL's N (redis://host:port/N)."""
    match = re.fullmatch(r"(redis://[^/?#]*)(?:/(\d*))?(\?.*)?", url)
    if not match:
        raise pytest.UsageError(f"cannot give each xdist worker its own Redis database in {url!r}")
    db = int(match.group(2) or 0) + index
    if db > 15:  # Redis ships with databases 0-15
        raise pytest.UsageError(
            f"{url!r} + xdist worker {index} is Redis database {db}: use fewer workers (-n)"
        )
    return f"{match.group(1)}/{db}{match.group(3) or ''}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist, in the controller, before worker gwN imports Django: give that worker a Redis database of
    its own (the URL's database + N) for its broker, results and any Redis cache. Celery's queues are keys of
    that database, so a real worker started by one xdist worker never takes another's tasks, and a purge or a
    flush stays within it. pytest-django already gives each worker its own test database (test_<name>_gwN);
    subprocesses (gunicorn, celery) inherit the environment."""
    index, count = int(node.gateway.id.removeprefix("gw")), node.workerinput["workercount"]
    if os.environ.get("REDIS_URL") and os.environ.get("CACHE_URL"):
        # The cache is cleared before each test (a FLUSHDB on Redis): no worker's cache may be another's broker.
        brokers, caches = (
            {_redis_url_for_worker(os.environ[name], i).split("?")[0] for i in range(count)}
            for name in ("REDIS_URL", "CACHE_URL")
        )
        if brokers & caches:
            raise pytest.UsageError(
                f"with {count} xdist workers, CACHE_URL's database must be at least {count} away from REDIS_URL's"
            )
    env = {
        name: _redis_url_for_worker(os.environ[name], index)
        for name in ("REDIS_URL", "CACHE_URL")
        if os.environ.get(name)
    }
    env["SM_TEST_BASE_REDIS_URL"] = os.environ.get("REDIS_URL", "")  # what the run was given (for a test)
    node.gateway.remote_exec(f"import os; os.environ.update({env!r})").waitclose()


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip with a reason on a developer machine; fail in CI, where every part must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Tests run Celery tasks in-process unless they ask for a real worker (the `celery_worker` fixture)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(scope="session", autouse=True)
def _no_replica_for_subprocesses():
    """The processes a test starts (gunicorn, celery, manage.py) are given the database of the test's choosing,
    which the replica of DATABASE_REPLICA_URL does not mirror: they run on that one database. (Popped here, in the
    process that runs the tests, after its settings have read it; never in the xdist controller.)"""
    previous = os.environ.pop("DATABASE_REPLICA_URL", None)
    yield
    if previous is not None:
        os.environ["DATABASE_REPLICA_URL"] = previous


@pytest.fixture(autouse=True)
def _replica_reads_only_when_asked(request):
    """With DATABASE_REPLICA_URL set (CI), page selectors read from the replica only in the tests marked `replica`:
    elsewhere a page read right after a committed write could be a moment behind, and a test's database access
    is allowed on `default` only."""
    from salesmarketing import replica

    replica.forget_replica_health()
    if replica.REPLICA not in settings.DATABASES or request.node.get_closest_marker("replica"):
        yield
        return
    previous = getattr(settings, "DATABASE_REPLICA_READS", True)
    settings.DATABASE_REPLICA_READS = False
    yield
    settings.DATABASE_REPLICA_READS = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: KPI values, rate limits and throttles never leak between tests."""
    cache.clear()


@pytest.fixture
def sales_team():
    return TeamFactory(name="営業一課")


@pytest.fixture
def owner(sales_team):
    return UserFactory(username="owner", display_name="担当 太郎", role=User.Role.SALES, team=sales_team)


@pytest.fixture
def teammate(sales_team):
    return UserFactory(username="teammate", display_name="同僚 花子", role=User.Role.SALES, team=sales_team)


@pytest.fixture
def outsider():
    return UserFactory(
        username="outsider", display_name="他課 次郎", role=User.Role.SALES, team=TeamFactory(name="営業二課")
    )


@pytest.fixture
def manager(sales_team):
    user = UserFactory(username="manager", display_name="課長 一郎", role=User.Role.MANAGER, team=sales_team)
    sales_team.manager = user
    sales_team.save()
    return user


@pytest.fixture
def marketer():
    return UserFactory(
        username="marketer",
        display_name="広報 桜",
        role=User.Role.MARKETING,
        team=TeamFactory(name="マーケ", kind="marketing"),
    )


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker consuming every named queue (realtime, bulk, email) from Redis in this process (needs
    REDIS_URL). Queue names are keys of this xdist worker's own Redis database (pytest_configure_node)."""
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker for a real worker")
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    queues = list(settings.TASK_QUEUE_NAMES)
    # The worker's thread closes its connection after each task (a worker process keeps it, up to DB_CONN_MAX_AGE):
    # a thread that ends leaves its connection open, and the test database could not be dropped.
    database = connections["default"].settings_dict  # the dict every thread's connection is made from
    max_age, database["CONN_MAX_AGE"] = database["CONN_MAX_AGE"], 0
    # Starting a worker sets Celery's logging up, which takes over the root logger's handlers (those LOGGING
    # configured): they are given back afterwards, so later tests in this process log as the app does.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=queues
        ) as worker:
            yield worker
    finally:
        database["CONN_MAX_AGE"] = max_age
        root.handlers[:] = handlers
        root.setLevel(level)


# --- Browser (pytest-playwright driving Debian's Chromium) --------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_or_skip(
        bool(shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)), f"Chromium not found at {CHROMIUM}"
    )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def login(live_server, page):
    """Log `user` in through the real login form; returns the page on the dashboard."""

    def _login(user, password: str = "pw-for-tests-1"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return _login


# The browser's page size: a laptop by default; `--viewport phone` (or BROWSER_VIEWPORT=phone) runs the browser
# tests at a phone's 390 px. Tests that need a size of their own (the board's 1600 px, the phone tests) set it.
VIEWPORTS = {"laptop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--viewport",
        choices=sorted(VIEWPORTS),
        default=os.environ.get("BROWSER_VIEWPORT", "laptop"),
        help="the browser tests' page size: laptop (1440×900, the default) or phone (390×844); "
        "BROWSER_VIEWPORT sets the default",
    )


@pytest.fixture(scope="session")
def viewport(pytestconfig) -> dict[str, int]:
    """The page size chosen for this run (--viewport / BROWSER_VIEWPORT)."""
    return dict(VIEWPORTS[pytestconfig.getoption("viewport")])


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, viewport):
    """A Japanese user's browser (the first users' language); tests switch to English where they need to."""
    return {**browser_context_args, "locale": "ja-JP", "timezone_id": "Asia/Tokyo", "viewport": viewport}
