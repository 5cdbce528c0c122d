"""The marketing overview: recent campaigns with their results, upcoming events, segments."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.marketing import selectors

RECENT = 8


@staff_page
def marketing_home(request):
    user = request.user
    if not any(can(user, name, "view") for name in (selectors.CAMPAIGN, selectors.SEGMENT, selectors.EVENT)):
        raise PermissionDenied("may not view marketing")
    context = {"section": "home"}
    if can(user, selectors.CAMPAIGN, "view"):
        context["campaigns"] = list(selectors.campaign_list(user)[:RECENT])
        context["may_create_campaign"] = can(user, selectors.CAMPAIGN, "create")
    if can(user, selectors.EVENT, "view"):
        context["events"] = list(selectors.event_list(user).filter(starts_at__gte=timezone.now())
                                 .order_by("starts_at")[:RECENT])
    if can(user, selectors.SEGMENT, "view"):
        context["segments"] = list(selectors.segment_list(user).order_by("-updated_at", "-id")[:RECENT])
    return render(request, "marketing/home.html", context)
