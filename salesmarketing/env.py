"""Small typed readers for environment variables, used by settings.py.

Each reader takes the variable name and a default; a malformed value raises
ImproperlyConfigured naming the variable, so a typo fails at start-up, not later.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r})")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer (got {raw!r})") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def load_env_file(path: str) -> None:
    """Read KEY=VALUE lines from a .env file into os.environ, never overriding what the environment already says."""
    if not path or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


SECRET_KEY_MIN_LENGTH = 50
# Keys published somewhere (this repository's old docker-compose fallback, our DEBUG key, examples); compared
# case-insensitively. Django's own generated keys for development start with "django-insecure-".
PLACEHOLDER_SECRET_KEYS = {
    "change-me-in-.env-to-a-long-random-string",
    "django-insecure-dev-only-key-do-not-use-in-production",
    "bench-only-secret-key-not-for-production-use-0123",
    "test-only-secret-key",
}
PLACEHOLDER_MARKERS = ("django-insecure", "change-me", "changeme", "change_me", "replace-me", "your-secret")


def weak_secret_key(key: str) -> str:
    """Why `key` must not sign anything in production ("" when it is fine): missing, shorter than
    SECRET_KEY_MIN_LENGTH characters, or a known placeholder."""
    if not key.strip():
        return "is not set"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is too short ({len(key)} characters; at least {SECRET_KEY_MIN_LENGTH} are needed)"
    folded = key.strip().casefold()
    if folded in PLACEHOLDER_SECRET_KEYS or any(marker in folded for marker in PLACEHOLDER_MARKERS):
        return "is a published placeholder"
    return ""
