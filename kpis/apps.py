from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = _("KPIs")

    def ready(self) -> None:
        from kpis import hooks as kpis_hooks
        from kpis.changes import reinstall_on_sqlite
        from kpis.db import register_sqlite_functions
        from salesmarketing import hooks

        connection_created.connect(register_sqlite_functions, dispatch_uid="kpis_sqlite_functions")
        post_migrate.connect(reinstall_on_sqlite, sender=self, dispatch_uid="kpis_day_triggers")
        # leads sits below kpis and cannot import it: an erasure calls this (salesmarketing.hooks).
        hooks.register(hooks.LEAD_ERASING, kpis_hooks.lead_erasing)
