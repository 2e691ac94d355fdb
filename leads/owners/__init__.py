"""Owners: a person hands a lead to another owner with a reason, and the change is logged (leads.models.OwnerChange).

services.py writes (lead_owner_change), selectors.py reads (who may change a lead's owner, to whom; the log),
views.py / forms.py the "Change owner" page of a lead. Handoffs have their own owner and log (leads.handoffs).
"""
