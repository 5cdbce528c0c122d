from django.urls import path

from guanxi.contactcenter import views

app_name = "contactcenter"
urlpatterns = [
    path("", views.desktop, name="desktop"),
    path("wallboard/", views.wallboard, name="wallboard"),
    path("reports/", views.reports, name="reports"),
    path("erlang/", views.erlang_calculator, name="erlang"),
    path("calls/", views.call_list, name="call_list"),
    path("calls/<int:call_id>/", views.call_detail, name="call_detail"),
    path("calls/<int:call_id>/new-contact/", views.call_new_contact, name="call_new_contact"),
    path("ivr-menus/", views.ivr_menu_list, name="ivr_menu_list"),
    path("ivr-menus/new/", views.ivr_menu_edit, name="ivr_menu_create"),
    path("ivr-menus/<int:menu_id>/", views.ivr_menu_edit, name="ivr_menu_edit"),
    path("simulator/", views.simulator, name="simulator"),
    path("twilio/voice/", views.twilio_voice, name="twilio_voice"),
    path("twilio/status/", views.twilio_status, name="twilio_status"),
]
