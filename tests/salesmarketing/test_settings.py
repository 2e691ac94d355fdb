import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from salesmarketing.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_reads_common_spellings(monkeypatch):
    for raw, expected in [
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("off", False),
        ("0", False),
        ("", False),
    ]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG") is expected
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True


def test_env_bool_rejects_garbage_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_env_int_and_list(monkeypatch):
    monkeypatch.setenv("X_NUM", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example ,,")
    assert env_int("X_NUM", 1) == 42
    assert env_list("X_LIST") == ["a.example", "b.example"]
    assert env_str("X_MISSING", "dflt") == "dflt"
    monkeypatch.setenv("X_NUM", "forty")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        env_int("X_NUM", 1)


def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Import the settings module fresh with exactly this environment and print what it decided."""
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "db = settings.DATABASES['default'];"
        "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'host': db.get('HOST', ''),"
        "'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'broker': settings.CELERY_BROKER_URL,"
        "'tz': settings.TIME_ZONE, 'lang': settings.LANGUAGE_CODE, 'debug': settings.DEBUG,"
        "'hosts': settings.ALLOWED_HOSTS, 'fallbacks': settings.SECRET_KEY_FALLBACKS}))"
    )
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "salesmarketing.settings", "ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_are_sqlite_in_process_tasks_tokyo_and_japanese():
    result = _settings_in_subprocess({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    assert decided["engine"] == "django.db.backends.sqlite3"
    assert decided["name"].endswith("var/salesmarketing.sqlite3")
    assert decided["eager"] is True
    assert decided["tz"] == "Asia/Tokyo"
    assert decided["lang"] == "ja"


def test_database_and_redis_urls_switch_to_postgres_and_a_real_broker():
    result = _settings_in_subprocess(
        {
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://app:pw@db.internal:5432/sm",
            "REDIS_URL": "redis://cache.internal:6379/1",
            "ALLOWED_HOSTS": "crm.example.jp",
            "TIME_ZONE": "UTC",
            "LANGUAGE_CODE": "en",
        }
    )
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    assert decided["engine"] == "django.db.backends.postgresql"
    assert (decided["name"], decided["host"]) == ("sm", "db.internal")
    assert decided["eager"] is False
    assert decided["broker"] == "redis://cache.internal:6379/1"
    assert decided["hosts"] == ["crm.example.jp"]
    assert (decided["tz"], decided["lang"], decided["debug"]) == ("UTC", "en", False)


def test_production_without_secret_key_refuses_to_start():
    result = _settings_in_subprocess({"DEBUG": "0"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("test-only-secret-key", "is too short (20 characters; at least 50 are needed)"),
        ("a" * 49, "is too short (49 characters"),
        ("change-me-in-.env-to-a-long-random-string", "is too short"),  # docker-compose's old fallback
        (
            "django-insecure-dev-only-key-do-not-use-in-production",
            "is a published placeholder",
        ),  # our DEBUG key
        ("django-insecure-" + "k" * 50, "is a published placeholder"),  # Django's startproject keys
        ("please-change-me-" + "0123456789" * 4, "is a published placeholder"),
    ],
)
def test_production_refuses_a_short_or_placeholder_secret_key(key, why):
    result = _settings_in_subprocess({"DEBUG": "0", "SECRET_KEY": key, "ALLOWED_HOSTS": "crm.example.jp"})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: SECRET_KEY {why}" in result.stderr
    assert key not in result.stderr  # the message never echoes the key


def test_production_starts_with_a_strong_key_and_debug_needs_none():
    strong = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "crm.example.jp"}
    )
    assert strong.returncode == 0, strong.stderr
    assert json.loads(strong.stdout)["fallbacks"] == []
    old = [secrets.token_urlsafe(50), secrets.token_urlsafe(50)]
    rotated = _settings_in_subprocess(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECRET_KEY_FALLBACKS": ",".join(old),
            "ALLOWED_HOSTS": "crm.example.jp",
        }
    )
    assert json.loads(rotated.stdout)["fallbacks"] == old  # the keys a rotation keeps verifying with
    assert _settings_in_subprocess({"DEBUG": "1", "SECRET_KEY": "short"}).returncode == 0  # scripts/dev


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "salesmarketing.settings", "ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_commands_run_with_the_test_key_but_serving_commands_do_not():
    """./scripts/test checks migrations with its short test key and DEBUG off; that signs nothing. A command that
    serves or prepares serving (check --deploy, migrate, runserver) still refuses the key."""
    weak = {"DEBUG": "0", "SECRET_KEY": "test-only-secret-key", "ALLOWED_HOSTS": "crm.example.jp"}
    build = _manage("makemigrations", "--check", "--dry-run", **weak)
    assert build.returncode == 0, build.stderr
    for command in (["check", "--deploy"], ["migrate", "--plan"]):
        refused = _manage(*command, **weak)
        assert refused.returncode != 0 and "SECRET_KEY is too short" in refused.stderr, command


def test_docker_compose_requires_secret_key_from_env_without_a_fallback():
    compose = (ROOT / "docker-compose.yml").read_text()
    line = next(line for line in compose.splitlines() if line.strip().startswith("SECRET_KEY:"))
    assert "${SECRET_KEY:?" in line and ":-" not in line


def test_env_file_fills_in_what_the_environment_does_not_say(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# local\nDEBUG=1\nTIME_ZONE='Europe/Berlin'\nLANGUAGE_CODE=en\n")
    result = _settings_in_subprocess({"ENV_FILE": str(env_file), "LANGUAGE_CODE": "ja"})
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    assert (decided["debug"], decided["tz"], decided["lang"]) == (True, "Europe/Berlin", "ja")


def test_env_example_documents_every_variable_settings_reads():
    settings_src = (ROOT / "salesmarketing" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', settings_src))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "settings.py reads no variables?"
    assert read <= documented, f"undocumented in .env.example: {sorted(read - documented)}"


def test_a_newcomers_sqlite_start_shows_no_warnings_that_only_concern_postgresql():
    """./scripts/dev runs on SQLite: the covering-index warning (models.W040) does not apply there and is
    silenced there only."""
    result = _manage("check", "--database", "default", DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "W040" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_pytest_lists_why_tests_were_skipped():
    """README: "-rs lists each skipped test with its reason", for `uv run pytest` as for ./scripts/test."""
    import tomllib

    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert "-rs" in addopts.split()
