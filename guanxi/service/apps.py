from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "guanxi.service"
    label = "service"
    verbose_name = _("Customer service")
    DEPENDS = ("core", "interactions", "jobs")

    def ready(self) -> None:
        from guanxi.service import tasks  # noqa: F401  (periodic SLA sweep and email jobs)
