from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactCenterConfig(AppConfig):
    name = "guanxi.contactcenter"
    label = "contactcenter"
    verbose_name = _("Contact center")
    DEPENDS = ("core", "interactions", "jobs")

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.contactcenter import tasks  # noqa: F401  (registers the routing timer job)
        from guanxi.core import record_panels

        navigation.register(navigation.NavEntry("contact-center-desktop", _("Agent desktop"),
                                                "contactcenter:desktop", "agent_state", 60))
        navigation.register(navigation.NavEntry("contact-center-wallboard", _("Wallboard"),
                                                "contactcenter:wallboard", "wallboard", 61))
        # The customer's recent calls beside the timeline of the 360° page.
        record_panels.register(record_panels.Panel("calls", "contact", "contactcenter/panels/contact_calls.html",
                                                   "guanxi.contactcenter.views.contact_calls_panel", order=30))
