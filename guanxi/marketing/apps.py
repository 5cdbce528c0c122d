from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "guanxi.marketing"
    label = "marketing"
    verbose_name = _("Marketing")
    # "sales" only for attribution (leads and won deals by campaign_id) and lead-scoring
    # signals; every use is guarded by ``sales_installed()`` so marketing also runs alone.
    DEPENDS = ("core", "interactions", "jobs", "sales", "outbox")  # zero-service campaign mail

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.marketing import segment_rules
        from guanxi.marketing import tasks  # noqa: F401  (registers the job handlers)

        from guanxi.core import record_panels
        from guanxi.core.demo import demo_data_loaded
        from guanxi.marketing.demo import load_marketing_demo_data

        navigation.register(navigation.NavEntry("marketing", _("Marketing"), "marketing:home", "campaign", 50))
        record_panels.register(record_panels.Panel(
            "marketing-history", "contact", "marketing/panels/contact_marketing.html",
            "guanxi.marketing.views.panels.contact_marketing_panel", order=40))
        demo_data_loaded.connect(load_marketing_demo_data, dispatch_uid="guanxi.marketing.demo")
        if sales_installed():
            from guanxi.marketing.lead_scoring import record_engagement
            from guanxi.marketing.signals import marketing_engagement

            segment_rules.register_sales_predicates()
            marketing_engagement.connect(record_engagement, dispatch_uid="guanxi.marketing.lead_scoring")


def sales_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("guanxi.sales")
