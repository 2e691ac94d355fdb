from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesmarketingConfig(AppConfig):
    name = "salesmarketing"
    verbose_name = _("Accounts and teams")

    def ready(self) -> None:
        # In ready(), as Django asks: the admin site and our date helpers need the apps loaded. Not a cycle.
        from django.contrib import admin

        from salesmarketing.dates import limit_admin_dates

        limit_admin_dates(admin.site)

        from anymail.signals import inbound

        from salesmarketing.esp import esp_inbound

        inbound.connect(esp_inbound, dispatch_uid="salesmarketing.esp.esp_inbound")

        # Registers our task names in every process, as the other apps do: the web process (ESP inbound webhook),
        # the SMTP receiver and the tests queue salesmarketing.tasks.inbound_email_process by name (queue_task).
        from salesmarketing import tasks  # noqa: F401
