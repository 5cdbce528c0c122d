from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    name = "guanxi.outbox"
    label = "outbox"
    verbose_name = _("Outbox")
    DEPENDS = ("core", "jobs")  # a stored message names the job that sent it

    def ready(self) -> None:
        from guanxi import navigation

        navigation.register(navigation.NavEntry("outbox", _("Outbox"), "outbox:list", "outbox_message", order=910))
