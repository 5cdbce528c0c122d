from django.urls import path

from guanxi.analytics.views import analyses, churn, dashboards, reports, scores, warehouse

app_name = "analytics"
urlpatterns = [
    path("", dashboards.dashboard, name="dashboard"),
    path("analyses/", analyses.analysis_list, name="analysis_list"),
    path("analyses/<slug:key>/", analyses.analysis_detail, name="analysis_detail"),
    path("analyses/<slug:key>/download/<str:export_format>/", analyses.analysis_download, name="analysis_download"),
    path("reports/", reports.report_list, name="report_list"),
    path("reports/new/", reports.report_create, name="report_create"),
    path("reports/<int:report_id>/", reports.report_detail, name="report_detail"),
    path("reports/<int:report_id>/edit/", reports.report_edit, name="report_edit"),
    path("reports/<int:report_id>/delete/", reports.report_delete, name="report_delete"),
    path("reports/<int:report_id>/download/<str:export_format>/", reports.report_download, name="report_download"),
    path("reports/<int:report_id>/run/", reports.report_run_background, name="report_run_background"),
    path("reports/<int:report_id>/schedules/", reports.report_schedule_create, name="report_schedule_create"),
    path("reports/<int:report_id>/schedules/<int:schedule_id>/delete/", reports.report_schedule_delete,
         name="report_schedule_delete"),
    path("reports/exports/<int:job_id>/", reports.report_job_file, name="report_job_file"),
    path("value/", scores.customer_value, name="customer_value"),
    path("value/recompute/", scores.recompute_scores, name="recompute_scores"),
    path("churn/", churn.churn_model, name="churn_model"),
    path("churn/train/", churn.churn_model_train, name="churn_model_train"),
    path("warehouse/", warehouse.warehouse_page, name="warehouse"),
    path("warehouse/refresh/", warehouse.warehouse_refresh, name="warehouse_refresh"),
]
