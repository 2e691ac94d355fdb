from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from pipeline import hooks as pipeline_hooks
        from pipeline import tasks  # noqa: F401  (registers the task names services queue by name)
        from pipeline.services import deal_create_from_handoff, deal_discard_for_undone_handoff
        from salesmarketing import hooks

        # leads sits below pipeline and cannot import it: it calls these (salesmarketing.hooks).
        hooks.register(hooks.HANDOFF_ACCEPTED, deal_create_from_handoff)
        hooks.register(hooks.HANDOFF_ACCEPT_UNDONE, deal_discard_for_undone_handoff)
        hooks.register(hooks.LEAD_ERASING, pipeline_hooks.lead_erasing)
        hooks.register(hooks.LEAD_EXPORTING, pipeline_hooks.lead_exporting)
        hooks.register(hooks.DEALS, pipeline_hooks.deals)
        hooks.register(hooks.SEARCH, pipeline_hooks.deal_search)
        # E-mail to and from leads, received at the BCC / forwarding address, logged as activities.
        from pipeline import mailbox

        hooks.register(hooks.INBOUND_EMAIL_RECEIVED, mailbox.inbound_email_received)
        hooks.register(hooks.LEAD_MERGING, pipeline_hooks.lead_merging)
        hooks.register(hooks.COMPANY_MERGING, pipeline_hooks.company_merging)
