from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from integrations import messages, tasks  # noqa: F401  (task names and notification kinds)
        from integrations.hooks import domain_events_emitted
        from salesmarketing import hooks

        # salesmarketing.events (the lowest layer) tells us of committed events through this hook.
        hooks.register(hooks.DOMAIN_EVENTS_EMITTED, domain_events_emitted)
