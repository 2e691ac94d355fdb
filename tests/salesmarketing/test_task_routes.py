"""Every task of our apps has an explicit route to a named queue (settings.CELERY_TASK_ROUTES), so that realtime
work (an event's scoring, a handoff's assignment, SLA checks) never waits behind bulk work on a shared queue."""

from pathlib import Path

from django.apps import apps
from django.conf import settings

from salesmarketing.celery import app as celery_app


def _our_tasks() -> set[str]:
    """Names of the registered tasks whose module belongs to one of our apps (not Celery's, not a library's)."""
    celery_app.loader.import_default_modules()  # autodiscovery: every app's tasks module
    base = Path(settings.BASE_DIR).resolve()
    ours = [
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base) and ".venv" not in Path(config.path).parts
    ]
    return {name for name in celery_app.tasks if any(name.startswith(f"{app}.") for app in ours)}


def test_every_task_of_our_apps_has_an_explicit_route_to_a_named_queue():
    tasks = _our_tasks()
    assert {"leads.tasks.process_touched_leads", "kpis.tasks.refresh_dashboards"} <= tasks  # discovery works
    routes = settings.CELERY_TASK_ROUTES
    unrouted = sorted(name for name in tasks if name not in routes)
    assert not unrouted, f"add these tasks to CELERY_TASK_ROUTES (realtime, bulk or email): {unrouted}"
    wrong = {
        name: routes[name]["queue"]
        for name in tasks
        if routes[name]["queue"] not in settings.TASK_QUEUE_NAMES
    }
    assert not wrong, f"routes to queues no worker consumes: {wrong}"
    stale = sorted(set(routes) - tasks)
    assert not stale, f"routes for tasks that no longer exist: {stale}"


def test_realtime_work_and_bulk_work_go_to_their_own_queues():
    def queue(name: str) -> str:
        return celery_app.amqp.router.route({}, name)["queue"].name

    for name in ("process_touched_leads", "assign_handoffs", "sla_check"):
        assert queue(f"leads.tasks.{name}") == "realtime"
    for name in ("leads.tasks.rescore_batch", "leads.tasks.rescore_all", "campaigns.tasks.attribution_sweep",
                 "kpis.tasks.freeze_weekly_snapshots", "kpis.tasks.refresh_dashboards"):  # fmt: skip
        assert queue(name) == "bulk"
    # Sending mail takes minutes a batch (a broadcast's throttle): never in the way of realtime or bulk work.
    for name in ("nurture.mail.tasks.broadcast_start", "nurture.mail.tasks.broadcast_send_batch",
                 "nurture.mail.tasks.broadcast_send_part", "nurture.mail.tasks.mail_sweep", "nurture.sequences.tasks.sequence_run"):  # fmt: skip
        assert queue(name) == "email"
    # Calls to other people's servers wait on their timeouts: never in the way of the other queues.
    for name in ("dispatch_events", "deliver", "sweep"):
        assert queue(f"integrations.tasks.{name}") == "integrations"


def test_every_periodic_task_is_a_routed_task_of_ours():
    tasks = _our_tasks()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks
        assert entry["task"] in settings.CELERY_TASK_ROUTES


def test_a_worker_started_without_queues_consumes_every_named_queue():
    """`celery -A salesmarketing worker` (dev, tests) without -Q takes all four; production names one each."""
    assert {queue.name for queue in celery_app.amqp.queues.values()} == set(settings.TASK_QUEUE_NAMES)
    assert celery_app.conf.task_default_queue in settings.TASK_QUEUE_NAMES
