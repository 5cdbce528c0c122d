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
        from guanxi.analytics import tasks  # noqa: F401  (job handlers and periodic jobs)


def installed_domain(label: str) -> bool:
    """Whether the ``guanxi.<label>`` domain is installed; analytics works without any."""
    from django.apps import apps

    return apps.is_installed(f"guanxi.{label}")
