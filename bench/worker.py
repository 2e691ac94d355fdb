"""The Celery app with one extra task, the floor of the event → handoff latency: a worker started with
`celery -A bench.worker worker` runs the app's tasks and `bench.noop`, a round trip through the same broker."""

from salesmarketing.celery import app

__all__ = ["app", "noop"]


@app.task(name="bench.noop", queue="realtime")  # the floor of the realtime queue's round trip
def noop() -> str:
    return "ok"
