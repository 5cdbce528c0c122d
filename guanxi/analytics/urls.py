from django.urls import path

from guanxi.analytics.views import scores, warehouse

app_name = "analytics"
urlpatterns = [
    path("value/", scores.customer_value, name="customer_value"),
    path("value/recompute/", scores.recompute_scores, name="recompute_scores"),
    path("warehouse/", warehouse.warehouse_page, name="warehouse"),
    path("warehouse/refresh/", warehouse.warehouse_refresh, name="warehouse_refresh"),
]
