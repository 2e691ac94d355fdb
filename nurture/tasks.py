"""Celery finds tasks in `<app>.tasks` (autodiscovery): each nurture feature's tasks module is imported here."""

from nurture.mail.tasks import broadcast_send_batch, broadcast_start, mail_sweep  # noqa: F401
from nurture.sequences.tasks import sequence_run, sequence_segment_enrol  # noqa: F401
