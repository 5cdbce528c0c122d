"""``{% marketing_tabs section %}``: the marketing sub-navigation, showing only the pages
the user's role may open."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from guanxi.core.access import can

register = template.Library()

TABS = (
    ("home", _("Overview"), "marketing:home", "campaign"),
    ("campaigns", _("Campaigns"), "marketing:campaign_list", "campaign"),
    ("segments", _("Segments"), "marketing:segment_list", "segment"),
    ("templates", _("Templates"), "marketing:template_list", "message_template"),
    ("events", _("Events"), "marketing:event_list", "marketing_event"),
    ("materials", _("Materials"), "marketing:material_list", "marketing_material"),
)


@register.inclusion_tag("marketing/includes/tabs.html", takes_context=True)
def marketing_tabs(context, section: str = ""):
    user = getattr(context.get("request"), "user", None)
    tabs = []
    for key, label, url_name, object_name in TABS:
        if user is None or not can(user, object_name, "view"):
            continue
        try:
            tabs.append({"key": key, "label": label, "url": reverse(url_name), "current": key == section})
        except NoReverseMatch:
            continue
    return {"tabs": tabs}
