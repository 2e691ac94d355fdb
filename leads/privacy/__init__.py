"""Personal data: export one lead's data, erase a lead, the signed unsubscribe link (services.py, where the
module docstring says what erasure removes, keeps and records), their pages (views.py), and the lead list's CSV
export (export.py). The services are re-exported here, the feature's public face for other code."""

from leads.privacy.services import (
    EXPORT_FORMAT_VERSION,
    FREE_TEXT_FIELDS,
    UNSUBSCRIBE_SALT,
    UNSUBSCRIBE_SOURCE,
    can_manage_personal_data,
    email_sha256,
    lead_email_undeliverable,
    lead_erase,
    lead_export,
    lead_export_json,
    lead_unsubscribe,
    read_unsubscribe_token,
    scrub_texts,
    unsubscribe_path,
    unsubscribe_token,
)

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "FREE_TEXT_FIELDS",
    "UNSUBSCRIBE_SALT",
    "UNSUBSCRIBE_SOURCE",
    "can_manage_personal_data",
    "email_sha256",
    "lead_email_undeliverable",
    "lead_erase",
    "lead_export",
    "lead_export_json",
    "lead_unsubscribe",
    "read_unsubscribe_token",
    "scrub_texts",
    "unsubscribe_path",
    "unsubscribe_token",
]
