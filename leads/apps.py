from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        # Registers leads' tasks in every process (the web's too), so services can queue them by name
        # (salesmarketing.celery.queue_task). Not a cycle: nothing imports leads.apps.
        from leads import tasks  # noqa: F401
