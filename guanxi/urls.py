"""URL map: each domain brings its own ``urls.py`` (web) and ``api.py`` (REST)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from guanxi.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("jobs/", include("guanxi.jobs.urls")),
    path("outbox/", include("guanxi.outbox.urls")),
    path("interactions/", include("guanxi.interactions.urls")),
    path("analytics/", include("guanxi.analytics.urls")),
    path("sales/", include("guanxi.sales.urls")),
    path("marketing/", include("guanxi.marketing.urls")),
    path("service/", include("guanxi.service.urls")),
    path("contact-center/", include("guanxi.contactcenter.urls")),
    path("", include("guanxi.core.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
