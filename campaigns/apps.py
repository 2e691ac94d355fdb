from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import hooks as campaigns_hooks
        from salesmarketing import hooks

        # leads sits below campaigns and cannot import it: an erasure calls this (salesmarketing.hooks).
        hooks.register(hooks.LEAD_ERASING, campaigns_hooks.lead_erasing)
        hooks.register(hooks.LEAD_MERGING, campaigns_hooks.lead_merging)
