from django.urls import path

from guanxi.service import views

app_name = "service"
urlpatterns = [
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("survey/<str:signed_token>/", views.survey_answer, name="survey_answer"),
]
