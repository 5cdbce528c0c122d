from django.urls import path

from guanxi.marketing.views import campaigns, home, public, segments, templates

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
    path("campaigns/<int:campaign_id>/<str:action>/", campaigns.campaign_action, name="campaign_action"),
    # public: recipients follow these without signing in
    path("t/o/<str:token>.gif", public.track_open, name="track_open"),
    path("t/c/<str:token>/", public.track_click, name="track_click"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
]
