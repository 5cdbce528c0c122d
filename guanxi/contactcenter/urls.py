from django.urls import path

from guanxi.contactcenter import views

app_name = "contactcenter"
urlpatterns = [
    path("calls/", views.call_list, name="call_list"),
    path("calls/<int:call_id>/", views.call_detail, name="call_detail"),
]
