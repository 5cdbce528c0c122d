"""The dashboard of the reader's role."""

from __future__ import annotations

from django.shortcuts import render

from guanxi.analytics.selectors.dashboards import dashboard_for
from guanxi.core.access import can
from guanxi.core.views.guard import staff_page


@staff_page
def dashboard(request):
    return render(request, "analytics/dashboard.html", {
        "board": dashboard_for(request.user), "may_analyse": can(request.user, "analysis", "view"),
        "may_refresh": can(request.user, "warehouse", "change")})
