from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "guanxi.jobs"
    label = "jobs"
    verbose_name = _("Background jobs")
    DEPENDS = ("core",)

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.jobs import tasks  # noqa: F401  (registers the Huey tasks)

        from guanxi.core import record_panels

        navigation.register(navigation.NavEntry("jobs", _("Jobs"), "jobs:list", "job", order=900))
        record_panels.register(record_panels.Panel("running-jobs", "home", "jobs/panels/home_running.html",
                                                   "guanxi.jobs.views.home_running_panel", order=20))
