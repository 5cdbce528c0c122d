"""Display filters shared by every Guanxi template: ``{% load guanxi_format %}``."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language, gettext as _

from guanxi.core.normalize import format_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """``+8613812345678`` → ``+86 138 1234 5678``."""
    return format_phone(value) if value else ""


@register.filter
def duration(seconds) -> str:
    """Seconds as ``4:05`` or ``1:02:05``; empty for zero."""
    try:
        total = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    if total <= 0:
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def percent(value) -> str:
    """A probability in 0…1 as a whole percentage."""
    if value is None or value == "":
        return ""
    try:
        return f"{round(float(value) * 100)} %"
    except (TypeError, ValueError):
        return ""


@register.filter
def custom_field_label(field) -> str:
    """The custom field's label in the current language (Chinese when one is given)."""
    if (get_language() or "").startswith("zh") and field.label_zh:
        return field.label_zh
    return field.label


@register.filter
def custom_value(value) -> str:
    """A stored custom field value as text: booleans read as yes / no."""
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if value is None:
        return ""
    return str(value)


@register.filter
def lookup(mapping, key):
    """``mapping[key]`` in a template, empty when missing."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
