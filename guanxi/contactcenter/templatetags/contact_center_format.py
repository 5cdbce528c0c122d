"""Figures of the contact center pages: service levels read to a tenth of a percent."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def share(value) -> str:
    """A fraction in 0…1 as a percentage with one decimal (``0.8801`` → ``88.0%``); empty for none."""
    if value is None or value == "":
        return ""
    try:
        return f"{number_format(float(value) * 100, 1)}%"
    except (TypeError, ValueError):
        return ""
