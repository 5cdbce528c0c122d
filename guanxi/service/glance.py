"""The service part of a customer glance (the contact center's screen pop): the caller's
open cases, as far as the agent may see them."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for

GLANCE_CASES = 5


def open_cases_glance(sender, contact, actor, **kwargs) -> dict | None:
    """``customer_glance_requested`` receiver: up to five open cases, newest first."""
    from guanxi.service import selectors

    if actor is None or scope_for(actor, "case", "view") == "none":
        return None
    cases = list(selectors.customer_cases(actor, contact_id=contact.pk)[:GLANCE_CASES])
    if not cases:
        return None
    return {"key": "open_cases", "title": _("Open cases"),
            "items": [{"label": f"{case.number} {case.subject}",
                       "url": reverse("service:case_detail", args=[case.pk]),
                       "detail": str(case.get_status_display())} for case in cases]}
