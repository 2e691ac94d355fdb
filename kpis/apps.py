from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = _("KPIs")

    def ready(self) -> None:
        from kpis.db import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="kpis_sqlite_functions")
