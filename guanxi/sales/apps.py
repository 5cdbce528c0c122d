from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "guanxi.sales"
    label = "sales"
    verbose_name = _("Sales")
    DEPENDS = ("core", "interactions", "jobs")

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.core import record_panels
        from guanxi.core.demo import demo_data_loaded
        from guanxi.sales import tasks  # noqa: F401  (registers job handlers and periodic tasks)
        from guanxi.sales.defaults import seed_after_migrate
        from guanxi.sales.demo import load_sales_demo_data

        navigation.register(navigation.NavEntry("leads", _("Leads"), "sales:lead_list", "lead", 40))
        navigation.register(navigation.NavEntry("pipeline", _("Pipeline"), "sales:pipeline_board", "opportunity", 41))
        navigation.register(navigation.NavEntry("calendar", _("Calendar"), "sales:calendar", "activity", 42))
        navigation.register(navigation.NavEntry("sales", _("Sales"), "sales:home", "opportunity", 43))

        panels = "guanxi.sales.views.panels"
        for target in ("contact", "account"):
            record_panels.register(record_panels.Panel(
                "sales-opportunities", target, "sales/panels/opportunities.html",
                f"{panels}.{target}_opportunities_panel", order=20))
            record_panels.register(record_panels.Panel(
                "sales-documents", target, "sales/panels/documents.html",
                f"{panels}.{target}_documents_panel", order=30))
            record_panels.register(record_panels.Panel(
                "sales-activities", target, "sales/panels/activities.html",
                f"{panels}.{target}_activities_panel", order=25))
        record_panels.register(record_panels.Panel("sales-my-day", "home", "sales/panels/my_day.html",
                                                   f"{panels}.home_my_day_panel", order=5))
        demo_data_loaded.connect(load_sales_demo_data, dispatch_uid="guanxi.sales.demo")
        post_migrate.connect(seed_after_migrate, sender=self, dispatch_uid="guanxi.sales.defaults")
