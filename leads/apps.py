from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        # Registers leads' tasks in every process (the web's too), so services can queue them by name
        # (salesmarketing.celery.queue_task). Not a cycle: nothing imports leads.apps.
        from leads import tasks  # noqa: F401
        from leads.bulk_actions import tasks as bulk_tasks  # noqa: F401

        # The handoffs feature sits above leads' records: a sales activity recorded on a lead (leads.services)
        # reaches it through this hook, never an import. Not a cycle: nothing imports leads.apps.
        from leads.handoffs.services import lead_first_touched
        from salesmarketing import hooks

        hooks.register(hooks.SALES_TOUCH_RECORDED, lead_first_touched)
