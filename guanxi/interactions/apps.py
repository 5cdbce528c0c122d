from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "guanxi.interactions"
    label = "interactions"
    verbose_name = _("Interactions")
    DEPENDS = ("core",)

    def ready(self) -> None:
        from guanxi import navigation

        navigation.register(navigation.NavEntry("interactions", _("Interactions"), "interactions:list",
                                                "interaction", 30))
