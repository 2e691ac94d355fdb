from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from leads.handoffs import register_accept_undo
        from pipeline.services import deal_discard_for_undone_handoff

        register_accept_undo(deal_discard_for_undone_handoff)
