"""Email templates, broadcasts and their send ledger (built in nurture/mail/)."""

__all__: list[str] = []
