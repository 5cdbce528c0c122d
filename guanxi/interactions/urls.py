from django.urls import path

from guanxi.interactions import views

app_name = "interactions"
urlpatterns = [
    path("", views.interaction_list, name="list"),
    path("<int:interaction_id>/", views.interaction_detail, name="detail"),
    path("log/contact/<int:contact_id>/", views.log_for_contact, name="log_for_contact"),
    path("log/account/<int:account_id>/", views.log_for_account, name="log_for_account"),
]
