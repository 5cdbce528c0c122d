from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "guanxi.interactions"
    label = "interactions"
    verbose_name = _("Interactions")
    DEPENDS = ("core",)

    def ready(self) -> None:
        from guanxi import navigation

        from guanxi.core import record_panels

        navigation.register(navigation.NavEntry("interactions", _("Interactions"), "interactions:list",
                                                "interaction", 30))
        # The timeline of the 360° pages and the user's recent interactions on the home page.
        views = "guanxi.interactions.views"
        record_panels.register(record_panels.Panel("timeline", "contact", "interactions/panels/timeline.html",
                                                   f"{views}.contact_timeline_panel", order=10))
        record_panels.register(record_panels.Panel("timeline", "account", "interactions/panels/timeline.html",
                                                   f"{views}.account_timeline_panel", order=10))
        record_panels.register(record_panels.Panel("recent-interactions", "home",
                                                   "interactions/panels/home_recent.html",
                                                   f"{views}.home_recent_panel", order=10))
