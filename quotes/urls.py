from django.urls import path

from quotes import views

app_name = "quotes"
urlpatterns = [
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_edit, name="product_new"),
    path("products/import/", views.product_import, name="product_import"),
    path("products/<int:pk>/", views.product_edit, name="product_edit"),
    path("deals/<int:deal_pk>/items/", views.item_add, name="item_add"),
    path("deals/<int:deal_pk>/items/section/", views.items_section, name="items_section"),
    path("items/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("items/<int:pk>/remove/", views.item_remove, name="item_remove"),
    path("deals/<int:deal_pk>/quotes/new/", views.quote_new, name="quote_new"),
    path("<int:pk>/", views.quote_detail, name="quote_detail"),
    path("<int:pk>/edit/", views.quote_edit, name="quote_edit"),
    path("<int:pk>/pdf/", views.quote_pdf, name="quote_pdf"),
    path("<int:pk>/<slug:action>/", views.quote_action, name="quote_action"),
]
