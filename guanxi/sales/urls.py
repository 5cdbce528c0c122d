"""Web pages of the sales domain, mounted at /sales/."""

from django.urls import path

from guanxi.sales.views import activities, documents, leads, opportunities, public, reports, team

app_name = "sales"
urlpatterns = [
    path("", reports.sales_home, name="home"),
    # public pages (no sign-in)
    path("web-to-lead/", public.web_to_lead, name="web_to_lead"),
    path("q/<str:token>/", public.quote_accept_page, name="quote_accept_page"),
    path("q/<str:token>/pdf/", public.quote_public_pdf, name="quote_public_pdf"),
    path("calendar/<str:secret>.ics", public.calendar_feed, name="calendar_feed"),
    # leads
    path("leads/", leads.lead_list, name="lead_list"),
    path("leads/new/", leads.lead_create, name="lead_create"),
    path("leads/web-form/", leads.web_form_snippet, name="web_form_snippet"),
    path("leads/<int:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("leads/<int:lead_id>/edit/", leads.lead_edit, name="lead_edit"),
    path("leads/<int:lead_id>/convert/", leads.lead_convert, name="lead_convert"),
    path("leads/<int:lead_id>/<str:action>/", leads.lead_action, name="lead_action"),
    # opportunities
    path("pipeline/", opportunities.pipeline_board, name="pipeline_board"),
    path("opportunities/", opportunities.opportunity_list, name="opportunity_list"),
    path("opportunities/new/", opportunities.opportunity_create, name="opportunity_create"),
    path("opportunities/<int:opportunity_id>/", opportunities.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:opportunity_id>/edit/", opportunities.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:opportunity_id>/move/", opportunities.opportunity_move, name="opportunity_move"),
    path("opportunities/<int:opportunity_id>/delete/", opportunities.opportunity_delete, name="opportunity_delete"),
    path("opportunities/<int:opportunity_id>/quote/", documents.quote_create, name="quote_create"),
    # quotes, orders, contracts
    path("quotes/", documents.quote_list, name="quote_list"),
    path("quotes/<int:quote_id>/", documents.quote_detail, name="quote_detail"),
    path("quotes/<int:quote_id>/pdf/", documents.quote_pdf_download, name="quote_pdf"),
    path("quotes/<int:quote_id>/order/", documents.order_create, name="order_create"),
    path("quotes/<int:quote_id>/<str:action>/", documents.quote_action, name="quote_action"),
    path("orders/", documents.order_list, name="order_list"),
    path("orders/<int:order_id>/", documents.order_detail, name="order_detail"),
    path("orders/<int:order_id>/contract/", documents.contract_create, name="contract_create"),
    path("contracts/", documents.contract_list, name="contract_list"),
    path("contracts/<int:contract_id>/", documents.contract_detail, name="contract_detail"),
    # activities and the calendar
    path("calendar/", activities.calendar, name="calendar"),
    path("calendar/feed/", activities.calendar_feed_settings, name="calendar_feed_settings"),
    path("activities/new/", activities.activity_create, name="activity_create"),
    path("activities/<int:activity_id>/", activities.activity_detail, name="activity_detail"),
    path("activities/<int:activity_id>/edit/", activities.activity_edit, name="activity_edit"),
    path("activities/<int:activity_id>/<str:action>/", activities.activity_action, name="activity_action"),
    # forecasts and reports
    path("forecast/", reports.forecast, name="forecast"),
    path("deals/", reports.deal_report, name="deal_report"),
    # team
    path("territories/", team.territory_list, name="territory_list"),
    path("quotas/", team.quota_list, name="quota_list"),
    path("expenses/", team.expense_list, name="expense_list"),
    path("expenses/<int:expense_id>/<str:action>/", team.expense_action, name="expense_action"),
    path("commissions/", team.commission_list, name="commission_list"),
    path("knowledge/", team.knowledge_list, name="knowledge_list"),
    path("knowledge/new/", team.knowledge_create, name="knowledge_create"),
    path("knowledge/<int:post_id>/", team.knowledge_detail, name="knowledge_detail"),
    path("products/", team.product_list, name="product_list"),
    path("price-lists/<int:price_list_id>/", team.price_list_detail, name="price_list_detail"),
]
