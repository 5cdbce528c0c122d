from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "guanxi.service"
    label = "service"
    verbose_name = _("Customer service")
    DEPENDS = ("core", "interactions", "jobs", "sales")  # cases link orders and contracts

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.core import record_panels
        from guanxi.core.demo import demo_data_loaded
        from guanxi.service import tasks  # noqa: F401  (periodic SLA sweep and email jobs)
        from guanxi.service.demo import load_service_demo_data

        demo_data_loaded.connect(load_service_demo_data, dispatch_uid="guanxi.service.demo")
        from guanxi.core.events import customer_glance_requested
        from guanxi.service.glance import open_cases_glance

        customer_glance_requested.connect(open_cases_glance, dispatch_uid="guanxi.service.glance")

        navigation.register(navigation.NavEntry("service", _("Service"), "service:case_list", "case", 40))
        views = "guanxi.service.views"
        record_panels.register(record_panels.Panel("service-cases", "contact", "service/panels/customer_cases.html",
                                                   f"{views}.contact_cases_panel", order=20))
        record_panels.register(record_panels.Panel("service-cases", "account", "service/panels/customer_cases.html",
                                                   f"{views}.account_cases_panel", order=20))
        record_panels.register(record_panels.Panel("service-work", "home", "service/panels/home_work.html",
                                                   f"{views}.home_work_panel", order=15))
