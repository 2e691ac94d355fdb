"""Secrets the app must use again but never show (an IMAP mailbox's password), encrypted at rest.

Fernet (AES-128-CBC with an HMAC-SHA256 over it, from `cryptography`) under a key derived from SECRET_KEY by
Django's own salted HMAC: a database dump alone does not reveal the password, and a changed token does not
decrypt. SECRET_KEY_FALLBACKS still decrypt after SECRET_KEY is rotated; without the old key, the user enters
the password again (`SecretUnreadable`)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

SALT = "salesmarketing.integrations.crypto"


class SecretUnreadable(ValueError):
    """The stored secret was encrypted under a key this app no longer has (or was tampered with)."""


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(salted_hmac(SALT, "fernet", secret=key, algorithm="sha256").digest())
            )
            for key in keys
        ]
    )


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable from exc
