from django.urls import path

from guanxi.marketing.views import campaigns, events, home, materials, printing, public, segments, templates

app_name = "marketing"
urlpatterns = [
    path("", home.marketing_home, name="home"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_create, name="segment_create"),
    path("segments/count/", segments.segment_count, name="segment_count"),
    path("segments/<int:segment_id>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/edit/", segments.segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/snapshot/", segments.segment_freeze, name="segment_freeze"),
    path("segments/<int:segment_id>/delete/", segments.segment_delete, name="segment_delete"),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new/", templates.template_create, name="template_create"),
    path("templates/<int:template_id>/", templates.template_detail, name="template_detail"),
    path("templates/<int:template_id>/edit/", templates.template_edit, name="template_edit"),
    path("templates/<int:template_id>/test-send/", templates.template_test_send, name="template_test_send"),
    path("templates/<int:template_id>/delete/", templates.template_delete, name="template_delete"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/roi/", campaigns.roi_report, name="roi_report"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/print/<str:kind>.pdf", printing.campaign_print, name="campaign_print"),
    path("campaigns/<int:campaign_id>/<str:action>/", campaigns.campaign_action, name="campaign_action"),
    path("events/", events.event_list, name="event_list"),
    path("events/new/", events.event_create, name="event_create"),
    path("events/<int:event_id>/", events.event_detail, name="event_detail"),
    path("events/<int:event_id>/edit/", events.event_edit, name="event_edit"),
    path("events/<int:event_id>/<str:action>/", events.event_action, name="event_action"),
    path("materials/", materials.material_list, name="material_list"),
    path("materials/new/", materials.material_create, name="material_create"),
    path("materials/<int:material_id>/", materials.material_detail, name="material_detail"),
    path("materials/<int:material_id>/v<int:number>/download/", materials.material_download,
         name="material_download"),
    path("materials/<int:material_id>/delete/", materials.material_delete, name="material_delete"),
    # public: recipients follow these without signing in
    path("t/o/<str:token>.gif", public.track_open, name="track_open"),
    path("t/c/<str:token>/", public.track_click, name="track_click"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("e/<slug:slug>/", events.event_register, name="event_register"),
]
