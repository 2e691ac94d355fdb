import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from salesmarketing.demo import DEMO_PASSWORD
from salesmarketing.models import User

# Bookkeeping of writes, not demo content: the KPI cache's day marks (kpis.changes) note every write, a second
# seed's updates too.
WRITE_MARKS = {"kpis.KpiDay", "kpis.KpiMark"}


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"salesmarketing", "leads", "campaigns", "pipeline", "nurture", "kpis"}
        and model._meta.label not in WRITE_MARKS
    }


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_counts(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    assert first["salesmarketing.User"] >= 4
    for role in User.Role.values:
        assert User.objects.filter(role=role).exists(), f"no demo user with role {role}"
    out = capsys.readouterr().out
    assert DEMO_PASSWORD in out
    assert User.objects.get(username="rep1").check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not User.objects.exists()
    call_command("seed_demo", "--force")
    assert User.objects.filter(username="admin", is_superuser=True).exists()
