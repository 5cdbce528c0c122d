"""``{% load analytics_format %}``: cells of analysis and report tables, formatted by kind."""

from __future__ import annotations

import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html

from guanxi.analytics.table_export import plain_value

register = template.Library()


@register.simple_tag
def cell(row: dict, column):
    value = row.get(column.key)
    kind = column.kind
    if value is None or value == "":
        return "—"
    if kind == "contact" and isinstance(value, dict):
        return format_html('<a href="{}">{}</a>', reverse("core:contact_360", args=[value["id"]]), value["name"])
    if kind == "account" and isinstance(value, dict):
        return format_html('<a href="{}">{}</a>', reverse("core:account_360", args=[value["id"]]), value["name"])
    value = plain_value(value, kind)
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "money" or kind == "number":
        return intcomma(f"{float(value):.2f}")
    if kind == "integer":
        return intcomma(int(value))
    if isinstance(value, datetime.datetime):
        return date_format(value, "SHORT_DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


@register.filter
def is_numeric(column) -> bool:
    return column.kind in ("money", "number", "integer", "percent")
