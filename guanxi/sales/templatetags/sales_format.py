"""Display filters of the sales pages: ``{% load sales_format %}``."""

from __future__ import annotations

from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def duration_days(seconds) -> str:
    """Seconds as whole days (or hours under a day)."""
    try:
        total = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    days, rest = divmod(total, 86400)
    if days:
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    hours = rest // 3600
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
