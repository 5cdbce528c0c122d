from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "guanxi.core"
    label = "core"
    verbose_name = _("Core records")
    DEPENDS: tuple[str, ...] = ()

    def ready(self) -> None:
        from guanxi import navigation
        from guanxi.core import signals  # noqa: F401  (login audit)
        from guanxi.core import tasks  # noqa: F401  (registers the import/export job handlers)

        navigation.register(navigation.NavEntry("contacts", _("Contacts"), "core:contact_list", "contact", 10))
        navigation.register(navigation.NavEntry("accounts", _("Accounts"), "core:account_list", "account", 20))
