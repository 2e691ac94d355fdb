from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesmarketingConfig(AppConfig):
    name = "salesmarketing"
    verbose_name = _("Accounts and teams")
