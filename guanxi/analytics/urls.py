from django.urls import path

from guanxi.analytics.views import analyses, churn, scores, warehouse

app_name = "analytics"
urlpatterns = [
    path("analyses/", analyses.analysis_list, name="analysis_list"),
    path("analyses/<slug:key>/", analyses.analysis_detail, name="analysis_detail"),
    path("analyses/<slug:key>/download/<str:export_format>/", analyses.analysis_download, name="analysis_download"),
    path("value/", scores.customer_value, name="customer_value"),
    path("value/recompute/", scores.recompute_scores, name="recompute_scores"),
    path("churn/", churn.churn_model, name="churn_model"),
    path("churn/train/", churn.churn_model_train, name="churn_model_train"),
    path("warehouse/", warehouse.warehouse_page, name="warehouse"),
    path("warehouse/refresh/", warehouse.warehouse_refresh, name="warehouse_refresh"),
]
