"""The panel marketing adds to a contact's 360° page: campaign responses and event
registrations (registered in ``apps.py`` through ``guanxi.core.record_panels``)."""

from __future__ import annotations

from guanxi.core.access import can
from guanxi.marketing import selectors


def contact_marketing_panel(request, contact) -> dict | None:
    user = request.user
    if not (can(user, selectors.CAMPAIGN, "view") and can(user, selectors.EVENT, "view")):
        return None
    history = selectors.contact_marketing_history(user, contact.pk)
    if not history["responses"] and not history["registrations"]:
        return {"empty": True}
    return history
