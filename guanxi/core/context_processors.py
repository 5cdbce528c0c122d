from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from guanxi import navigation as menu
from guanxi.core.access import can


def navigation(request):
    """The main menu entries the current user may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_entries": []}
    items = []
    for entry in menu.entries():
        if not can(user, entry.object_name, "view"):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        items.append({"key": entry.key, "label": entry.label, "url": url,
                      "active": url != "/" and request.path.startswith(url)})
    return {"nav_entries": items}
