"""Panels this domain adds to pages of core (registered in ``apps.py`` through
``guanxi.core.record_panels``): the customer's deals, documents and planned activities on
the 360° pages, and the user's day on the home page."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.sales import selectors
from guanxi.sales.models import ActivityStatus

HOME_ITEMS = 8


def _summary(request, **customer) -> dict:
    return selectors.customer_sales_summary(request.user, **customer)


def _opportunities(request, **customer) -> dict | None:
    summary = _summary(request, **customer)
    if summary["opportunities"] is None:
        return None
    return {"title": _("Opportunities"), "opportunities": summary["opportunities"],
            "may_create": can(request.user, "opportunity", "create"), "customer": customer}


def contact_opportunities_panel(request, contact) -> dict | None:
    return _opportunities(request, contact_id=contact.pk)


def account_opportunities_panel(request, account) -> dict | None:
    return _opportunities(request, account_id=account.pk)


def _documents(request, **customer) -> dict | None:
    summary = _summary(request, **customer)
    if summary["quotes"] is None and summary["orders"] is None and summary["contracts"] is None:
        return None
    if not (summary["quotes"] or summary["orders"] or summary["contracts"]):
        return None
    return {"title": _("Quotes, orders and contracts"), "quotes": summary["quotes"], "orders": summary["orders"],
            "contracts": summary["contracts"]}


def contact_documents_panel(request, contact) -> dict | None:
    return _documents(request, contact_id=contact.pk)


def account_documents_panel(request, account) -> dict | None:
    return _documents(request, account_id=account.pk)


def _activities(request, **customer) -> dict | None:
    summary = _summary(request, **customer)
    if summary["activities"] is None:
        return None
    return {"title": _("Planned activities"), "activities": summary["activities"],
            "may_create": can(request.user, "activity", "create"), "customer": customer}


def contact_activities_panel(request, contact) -> dict | None:
    return _activities(request, contact_id=contact.pk)


def account_activities_panel(request, account) -> dict | None:
    return _activities(request, account_id=account.pk)


def home_my_day_panel(request, _record=None) -> dict | None:
    """Today's and overdue activities of the signed-in user."""
    try:
        mine = selectors.visible_activities(request.user).filter(owner_id=request.user.pk,
                                                                 status=ActivityStatus.PLANNED)
    except PermissionDenied:
        return None
    end_of_today = timezone.localtime().replace(hour=23, minute=59, second=59) + datetime.timedelta(seconds=1)
    due = list(mine.filter(start_at__lt=end_of_today).select_related("account", "contact", "opportunity")
               .order_by("start_at")[:HOME_ITEMS])
    return {"title": _("My day"), "activities": due, "now": timezone.now()}
