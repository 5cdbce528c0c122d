"""Rows of the contact and account list tables: ``{% load record_tables %}``, then
``{% contact_rows window.items %}`` or ``{% account_rows window.items %}`` inside ``<tbody>``.

A list page shows fifty records. Through the template engine each row cost about half a
millisecond (two ``{% url %}``, the phone and date filters, a dozen variable lookups), most
of the page's budget (SPEC §1: p95 ≤ 50 ms at a million contacts). As Django's admin does
for its change list (``items_for_result``), the cells are assembled in Python, from values
escaped with ``html.escape`` (what Django's ``escape`` calls) and formatted as the
template's filters formatted them; the markup is the same.
"""

from __future__ import annotations

from html import escape

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone, is_aware
from django.utils.translation import gettext as _

from guanxi.core.models import LifecycleStage, ValueTier
from guanxi.core.normalize import format_phone
from guanxi.core.selectors import USER_NAME_COLUMNS

register = template.Library()

_MARKER = 987654321
# The columns the rows below read: list views fetch only these (with ``only``), so fifty
# rows do not carry every field of the contact, its account and its owner.
CONTACT_ROW_COLUMNS = ("full_name", "alternate_name", "account", "account__name", "phone", "email",
                       "lifecycle_stage", "owner", *(f"owner__{column}" for column in USER_NAME_COLUMNS),
                       "updated_at")
ACCOUNT_ROW_COLUMNS = ("name", "is_key_account", "industry", "phone", "lifecycle_stage", "value_tier", "owner",
                       *(f"owner__{column}" for column in USER_NAME_COLUMNS), "updated_at",
                       "territory", "territory__name")  # the list selector joins the territory
# Date format characters of the usual short formats ("m/d/Y", "Y年n月j日"), as Django's
# ``dateformat`` writes them; a format with any other letter goes through ``dateformat``.
_DATE_PARTS = {
    "d": lambda day: f"{day.day:02d}", "j": lambda day: str(day.day), "m": lambda day: f"{day.month:02d}",
    "n": lambda day: str(day.month), "Y": lambda day: f"{day.year:04d}", "y": lambda day: f"{day.year % 100:02d}",
}


class RecordUrl:
    """``reverse(url_name, args=[pk])`` for a whole page of records at the cost of one
    ``reverse``: the URL is reversed once with a marker id, then filled in per record."""

    def __init__(self, url_name: str):
        self.head, self.tail = reverse(url_name, args=[_MARKER]).split(str(_MARKER))

    def __call__(self, pk: int) -> str:
        return escape(f"{self.head}{pk}{self.tail}")


class UpdatedCell:
    """``<time>`` of a record's last change, as ``|date:'c'`` and ``|date:"SHORT_DATE_FORMAT"``
    render it in the current time zone and language (zone and format looked up once)."""

    def __init__(self):
        self.zone = get_current_timezone() if settings.USE_TZ else None
        short_date = get_format("SHORT_DATE_FORMAT")
        if "\\" in short_date or any(character.isascii() and character.isalpha() and character not in _DATE_PARTS
                                      for character in short_date):
            self.parts = None
            self.short_date = short_date
        else:
            self.parts = [_DATE_PARTS.get(character, character) for character in short_date]

    def __call__(self, moment) -> str:
        local = moment.astimezone(self.zone) if self.zone is not None and is_aware(moment) else moment
        if self.parts is None:
            shown = dateformat.format(local, self.short_date)
        else:
            shown = "".join(part if isinstance(part, str) else part(local) for part in self.parts)
        return f'<td class="nowrap"><time datetime="{escape(local.isoformat())}">{escape(shown)}</time></td>'


def _labels(choices) -> dict[str, str]:
    """Choice labels translated once per table; ``get_FOO_display`` would hash every lazy
    label again on each call."""
    return {value: escape(str(label)) for value, label in choices.choices}


def _phone_cell(number: str) -> str:
    if not number:
        return '<td class="nowrap"></td>'
    return f'<td class="nowrap"><a href="tel:{escape(number)}">{escape(format_phone(number))}</a></td>'


def _owner(record) -> str:
    return escape(str(record.owner)) if record.owner_id and record.owner else ""


# Every value below goes through ``html.escape`` (what Django's ``escape`` calls) before it
# joins the markup; the rows are marked safe only once assembled.
@register.simple_tag
def contact_rows(contacts) -> SafeString:
    """One ``<tr>`` per contact: name (to the 360° page), account, phone, email, stage,
    owner and last update. Needs ``account`` and ``owner`` selected with the contacts."""
    contact_url, account_url = RecordUrl("core:contact_360"), RecordUrl("core:account_360")
    updated_cell, stages = UpdatedCell(), _labels(LifecycleStage)
    rows = []
    for contact in contacts:
        alternate = f" <small>{escape(contact.alternate_name)}</small>" if contact.alternate_name else ""
        account = (f'<a href="{account_url(contact.account_id)}">{escape(contact.account.name)}</a>'
                   if contact.account_id and contact.account else "")
        email = escape(contact.email)
        email = f'<a href="mailto:{email}">{email}</a>' if email else ""
        rows.append(
            f'<tr>\n<th scope="row"><a href="{contact_url(contact.pk)}">{escape(contact.full_name)}</a>{alternate}'
            f"</th>\n<td>{account}</td>\n{_phone_cell(contact.phone)}\n<td>{email}</td>\n"
            f"<td>{stages.get(contact.lifecycle_stage, escape(contact.lifecycle_stage))}</td>\n"
            f"<td>{_owner(contact)}</td>\n{updated_cell(contact.updated_at)}\n</tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 - built from escaped values above


@register.simple_tag
def account_rows(accounts) -> SafeString:
    """One ``<tr>`` per account: name (to the 360° page) with the key-account badge,
    industry, phone, stage, tier, owner and last update. Needs ``owner`` selected."""
    account_url = RecordUrl("core:account_360")
    updated_cell, stages, tiers = UpdatedCell(), _labels(LifecycleStage), _labels(ValueTier)
    key_account = f' <span class="badge badge-alert">{escape(_("Key account"))}</span>'
    rows = []
    for account in accounts:
        rows.append(
            f'<tr>\n<th scope="row"><a href="{account_url(account.pk)}">{escape(account.name)}</a>'
            f"{key_account if account.is_key_account else ''}</th>\n<td>{escape(account.industry)}</td>\n"
            f"{_phone_cell(account.phone)}\n"
            f"<td>{stages.get(account.lifecycle_stage, escape(account.lifecycle_stage))}</td>\n"
            f"<td>{tiers.get(account.value_tier, escape(account.value_tier))}</td>\n"
            f"<td>{_owner(account)}</td>\n{updated_cell(account.updated_at)}\n</tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 - built from escaped values above
