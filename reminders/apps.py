from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = _("Reminders")

    def ready(self) -> None:
        # The messages register their kinds (salesmarketing.notifications); the tasks their names (celery).
        from reminders import messages, tasks  # noqa: F401
