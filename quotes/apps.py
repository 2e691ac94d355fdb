from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuotesConfig(AppConfig):
    name = "quotes"
    verbose_name = _("Quotes")

    def ready(self) -> None:
        from quotes import tasks  # noqa: F401  (registers the task names services queue by name)
        from quotes.selectors import deal_item_count
        from quotes.services.lines import deal_amount_derived
        from quotes.views import deal_page_section
        from salesmarketing import hooks

        # pipeline sits below quotes: its deal page shows the items and quotes through these hooks, its deal
        # edits leave an itemised deal's amount to the items, and its board cards count the items.
        hooks.register(hooks.DEAL_PAGE_SECTIONS, deal_page_section)
        hooks.register(hooks.DEAL_AMOUNT_DERIVED, deal_amount_derived)
        hooks.register(hooks.DEAL_ITEM_COUNT, deal_item_count)
