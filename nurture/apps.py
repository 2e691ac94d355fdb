from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    """What marketing sends between capture and handoff: segments, email templates, broadcasts, sequences.

    Sits in the work layer beside `pipeline` and above the records (`leads`); it never imports `pipeline`,
    `campaigns` views or `kpis`. Lower apps reach it only through hooks it registers here (salesmarketing.hooks).
    """

    name = "nurture"
    verbose_name = _("Nurture")

    def ready(self) -> None:
        from nurture import merging, timeline
        from nurture.segments import hooks as segment_hooks
        from nurture.sequences import hooks as sequence_hooks
        from salesmarketing import hooks

        # leads sits below nurture and cannot import it: its lead list asks this hook for its bulk actions.
        hooks.register(hooks.LEAD_LIST_ACTIONS, segment_hooks.lead_list_actions)
        # Sequences: enrol from the lead list and the lead page; a handoff rejected as too early / no budget enrols.
        hooks.register(hooks.LEAD_LIST_ACTIONS, sequence_hooks.lead_list_actions)
        hooks.register(hooks.LEAD_PAGE_ACTIONS, sequence_hooks.lead_page_actions)
        # The lead list's bulk jobs: add to a static list, enrol in a sequence (a batch of leads at a time).
        hooks.register(hooks.LEAD_BULK_ACTIONS, segment_hooks.lead_bulk_actions)
        hooks.register(hooks.LEAD_BULK_ACTIONS, sequence_hooks.lead_bulk_actions)
        hooks.register(hooks.HANDOFF_REJECTED, sequence_hooks.handoff_rejected)
        # The lead page's timeline shows the lead's nurture history among its touches.
        hooks.register(hooks.LEAD_TIMELINE, timeline.lead_timeline)
        # Bounces and complaints: received at the return path (salesmarketing.inbound) or from a provider's webhook.
        from anymail.signals import tracking

        from nurture.mail import bounces

        hooks.register(hooks.INBOUND_EMAIL_RECEIVED, bounces.inbound_email_received)
        hooks.register(hooks.INBOUND_EMAIL_RECEIVED, sequence_hooks.inbound_email_received)
        tracking.connect(bounces.esp_tracking, dispatch_uid="nurture.mail.bounces.esp_tracking")
        # Opens and clicks of a sent message mark its ledger row (the outcomes count them with no lookup).
        from nurture.mail import outcomes

        hooks.register(hooks.EMAIL_TOUCHES_RECORDED, outcomes.email_touches_recorded)
        # Merging two leads moves their lists, enrolments and send ledgers.
        hooks.register(hooks.LEAD_MERGING, merging.lead_merging)
