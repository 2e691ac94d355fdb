from celery import shared_task

from leads.awareness import infer_awareness


@shared_task(acks_late=True)
def process_touched_leads(lead_ids: list[int]) -> int:
    """Bring leads whose touches changed up to date. Idempotent: a second run finds nothing to change."""
    return infer_awareness(lead_ids)
