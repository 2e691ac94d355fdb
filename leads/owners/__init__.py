"""Owners: a person hands a lead or a company to another owner with a reason, and the change is logged
(leads.models.OwnerChange).

services.py writes (owner_change), selectors.py reads (who may change a record's owner, to whom; the log),
views.py / forms.py the "Change owner" pages of a lead and of a company. Handoffs have their own owner and log
(leads.handoffs).
"""
