from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "guanxi.analytics"
    label = "analytics"
    verbose_name = _("Analytics")
    # Reads the sales, service and marketing tables only through the warehouse loader,
    # and only when those apps are installed (``installed_domain``).
    DEPENDS = ("core", "interactions", "jobs")

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.analytics import tasks  # noqa: F401  (job handlers and periodic jobs)
        from guanxi.core import record_panels

        navigation.register(navigation.NavEntry("analytics", _("Analytics"), "analytics:dashboard", "dashboard",
                                                order=70))
        record_panels.register(record_panels.Panel("customer-value", "contact", "analytics/panels/customer_value.html",
                                                   "guanxi.analytics.views.scores.contact_value_panel", order=30))


def installed_domain(label: str) -> bool:
    """Whether the ``guanxi.<label>`` domain is installed; analytics works without any."""
    from django.apps import apps

    return apps.is_installed(f"guanxi.{label}")
