from django.urls import path

from leads import views, views_handoffs

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("handoffs/", views_handoffs.handoff_list, name="handoffs"),
    path("handoffs/<int:pk>/touch", views_handoffs.handoff_touch, name="handoff_touch"),
    path("handoffs/<int:pk>/accept", views_handoffs.handoff_accept_view, name="handoff_accept"),
    path("handoffs/<int:pk>/reject", views_handoffs.handoff_reject_view, name="handoff_reject"),
]
