from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuotesConfig(AppConfig):
    name = "quotes"
    verbose_name = _("Quotes")

    def ready(self) -> None:
        from quotes import tasks  # noqa: F401  (registers the task names services queue by name)
        from quotes.views import deal_page_section
        from salesmarketing import hooks

        # pipeline sits below quotes: its deal page shows the items and quotes through this hook.
        hooks.register(hooks.DEAL_PAGE_SECTIONS, deal_page_section)
