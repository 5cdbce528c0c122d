from django.urls import path

from guanxi.service import views

app_name = "service"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/new/suggestions/", views.case_form_suggestions, name="case_form_suggestions"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/reply/", views.case_reply, name="case_reply"),
    path("cases/<int:case_id>/status/", views.case_status, name="case_status"),
    path("cases/<int:case_id>/assign/", views.case_assign, name="case_assign"),
    path("cases/<int:case_id>/customer/", views.case_link_customer, name="case_link_customer"),
    path("cases/<int:case_id>/articles/<int:article_id>/helpful/", views.article_helpful, name="article_helpful"),
    path("cases/<int:case_id>/complaint/", views.complaint_create, name="complaint_create"),
    path("cases/<int:case_id>/visit/", views.visit_create, name="visit_create"),
    path("contacts/suggestions/", views.contact_suggestions, name="contact_suggestions"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("knowledge/", views.article_list, name="article_list"),
    path("knowledge/new/", views.article_edit, name="article_create"),
    path("knowledge/<int:article_id>/", views.article_detail, name="article_detail"),
    path("knowledge/<int:article_id>/edit/", views.article_edit, name="article_edit"),
    path("knowledge/<int:article_id>/versions/<int:version_id>/restore/", views.article_restore,
         name="article_restore"),
    path("complaints/", views.complaint_list, name="complaint_list"),
    path("complaints/<int:complaint_id>/", views.complaint_detail, name="complaint_detail"),
    path("contracts/", views.contract_list, name="contract_list"),
    path("contracts/<int:contract_id>/", views.contract_detail, name="contract_detail"),
    path("visits/", views.visit_calendar, name="visit_calendar"),
    path("visits/<int:visit_id>/status/", views.visit_status, name="visit_status"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("reports/sla/", views.sla_report, name="sla_report"),
    path("reports/satisfaction/", views.satisfaction, name="satisfaction"),
    path("contact-us/", views.case_web_form, name="web_form"),
    path("survey/<str:signed_token>/", views.survey_answer, name="survey_answer"),
]
