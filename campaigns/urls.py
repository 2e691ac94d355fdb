from django.urls import path

from campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("costs/import/", views.cost_import, name="cost_import"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/costs/", views.cost_add, name="cost_add"),
    path("<int:pk>/costs/<int:cost_pk>/delete/", views.cost_delete, name="cost_delete"),
    path("personas/", views.persona_list, name="persona_list"),
    path("personas/new/", views.persona_edit, name="persona_create"),
    path("personas/rematch/", views.personas_rematch, name="personas_rematch"),
    path("personas/<int:pk>/", views.persona_detail, name="persona_detail"),
    path("personas/<int:pk>/edit/", views.persona_edit, name="persona_edit"),
    path("personas/<int:pk>/rules/", views.rule_add, name="rule_add"),
    path("personas/<int:pk>/rules/<int:rule_pk>/", views.rule_edit, name="rule_edit"),
    path("personas/<int:pk>/rules/<int:rule_pk>/delete/", views.rule_delete, name="rule_delete"),
    path("personas/<int:pk>/leads/", views.persona_lead_add, name="persona_lead_add"),
    path("leads/<int:lead_pk>/persona/", views.lead_persona, name="lead_persona"),
]
