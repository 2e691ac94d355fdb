"""Persona matching rules, set-based; personas set by hand stay; persona pages and rule editing."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext

from campaigns.attribution import LeadSelection
from campaigns.models import PersonaRule
from campaigns.personas import lead_persona_set, personas_match
from leads.models import Lead
from tests.campaigns.factories import PersonaRuleFactory
from tests.leads.factories import CompanyFactory, LeadFactory, PersonaFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas():
    cio = PersonaFactory(name="情シス部長")
    manager = PersonaFactory(name="現場マネージャー")
    ceo = PersonaFactory(name="中小企業の経営者")
    PersonaRuleFactory(
        persona=cio, title_contains="部長, 本部長", department_contains="情報システム", priority=10
    )
    PersonaRuleFactory(
        persona=cio,
        title_contains="部長",
        industry="manufacturing",
        employees_min=300,
        employees_max=1999,
        priority=20,
    )
    PersonaRuleFactory(persona=manager, title_contains="課長、マネージャー", priority=40)
    PersonaRuleFactory(persona=ceo, title_contains="代表,社長", employees_max=299, priority=5)
    return cio, manager, ceo


def match_all():
    return personas_match(selection=LeadSelection(ids=tuple(Lead.objects.values_list("id", flat=True))))


def test_rules_match_on_title_department_and_company(personas):
    cio, manager, ceo = personas
    factory_mid = CompanyFactory(industry="manufacturing", employee_count=800)
    small = CompanyFactory(employee_count=50)
    big = CompanyFactory(employee_count=5000)
    leads = {
        "it_head": LeadFactory(title="部長", department="情報システム部"),
        "plant_head": LeadFactory(title="製造部 部長", company=factory_mid),
        "sales_head_big": LeadFactory(title="部長", department="営業部", company=big),
        "manager": LeadFactory(title="営業課長"),
        "english": LeadFactory(title="Sales マネージャー"),
        "small_ceo": LeadFactory(title="代表取締役社長", company=small),
        "big_ceo": LeadFactory(title="代表取締役社長", company=big),
        "staff": LeadFactory(title="担当"),
    }
    assert match_all() == 5
    got = {key: (Lead.objects.get(pk=lead.pk).persona or None) for key, lead in leads.items()}
    assert got == {
        "it_head": cio,
        "plant_head": cio,
        "sales_head_big": None,
        "manager": manager,
        "english": manager,
        "small_ceo": ceo,
        "big_ceo": None,
        "staff": None,
    }
    assert match_all() == 0  # nothing changes the second time


def test_the_lowest_priority_number_wins(personas):
    cio, manager, _ceo = personas
    lead = LeadFactory(title="情報システム部 部長 兼 課長", department="情報システム部")
    match_all()
    assert Lead.objects.get(pk=lead.pk).persona == cio  # 10 beats 40
    PersonaRule.objects.filter(persona=manager).update(priority=1)
    match_all()
    assert Lead.objects.get(pk=lead.pk).persona == manager


def test_a_persona_set_by_hand_survives_matching_and_can_be_released(personas):
    cio, manager, _ceo = personas
    lead = LeadFactory(title="営業課長")
    lead_persona_set(lead=lead, persona=cio)
    match_all()
    lead.refresh_from_db()
    assert (lead.persona, lead.persona_set_by_hand) == (cio, True)

    lead_persona_set(lead=lead, persona=None)
    lead.refresh_from_db()
    assert (lead.persona, lead.persona_set_by_hand) == (manager, False)


def test_a_lead_that_no_longer_matches_loses_its_persona(personas):
    _cio, manager, _ceo = personas
    lead = LeadFactory(title="課長")
    match_all()
    Lead.objects.filter(pk=lead.pk).update(title="担当")
    match_all()
    assert Lead.objects.get(pk=lead.pk).persona is None
    assert Lead.objects.filter(persona=manager).count() == 0


def test_editing_a_rule_in_the_ui_matches_everyone_again(
    marketer_client, personas, django_capture_on_commit_callbacks
):
    _cio, manager, _ceo = personas
    lead = LeadFactory(title="係長")
    rule = PersonaRule.objects.get(persona=manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            f"/campaigns/personas/{manager.pk}/rules/{rule.pk}/",
            {
                f"r{rule.pk}-title_contains": "課長, 係長",
                f"r{rule.pk}-priority": "40",
                f"r{rule.pk}-is_active": "on",
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="rules">')
    assert "課長 / 係長" in html
    assert Lead.objects.get(pk=lead.pk).persona == manager  # tasks run in-process in tests


def test_a_rule_needs_a_condition(marketer_client, personas):
    _cio, manager, _ceo = personas
    response = marketer_client.post(
        f"/campaigns/personas/{manager.pk}/rules/", {"new-priority": "10"}, HTTP_HX_REQUEST="true"
    )
    assert gettext("Fill in at least one condition.") in response.content.decode()
    assert manager.rules.count() == 1


def test_the_persona_pages_show_rules_and_leads(marketer_client, personas):
    cio, _manager, _ceo = personas
    lead = LeadFactory(title="部長", department="情報システム部", name="情報 部長")
    match_all()
    assert "情シス部長" in marketer_client.get("/campaigns/personas/").content.decode()
    html = marketer_client.get(f"/campaigns/personas/{cio.pk}/").content.decode()
    assert lead.name in html and "情報システム" in html


def test_setting_a_persona_by_hand_from_the_persona_page(marketer_client, personas):
    cio, _manager, _ceo = personas
    lead = LeadFactory(email="someone@example.jp", title="担当")
    marketer_client.post(f"/campaigns/personas/{cio.pk}/leads/", {"email": "SOMEONE@example.jp"})
    lead.refresh_from_db()
    assert (lead.persona, lead.persona_set_by_hand) == (cio, True)


def test_a_rep_cannot_edit_personas(rep_client, personas):
    cio, _manager, _ceo = personas
    lead = LeadFactory()
    assert rep_client.get(f"/campaigns/personas/{cio.pk}/").status_code == 200
    assert (
        rep_client.post(f"/campaigns/personas/{cio.pk}/rules/", {"new-title_contains": "x"}).status_code
        == 403
    )
    assert rep_client.post(f"/campaigns/leads/{lead.pk}/persona/", {"persona": cio.pk}).status_code == 403
