from django.urls import path

from guanxi.outbox import views

app_name = "outbox"
urlpatterns = [
    path("", views.outbox_list, name="list"),
    path("<int:message_id>/", views.outbox_detail, name="detail"),
]
