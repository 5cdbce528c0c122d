"""The warehouse page: what each table holds, when it was loaded, and refresh buttons."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.analytics.selectors.warehouse import warehouse_status
from guanxi.analytics.services import warehouse as warehouse_services
from guanxi.core.access import can
from guanxi.core.views.guard import staff_page


@staff_page
def warehouse_page(request):
    return render(request, "analytics/warehouse.html", {
        "status": warehouse_status(request.user), "may_refresh": can(request.user, "warehouse", "change")})


@staff_page
@require_POST
def warehouse_refresh(request):
    job = warehouse_services.warehouse_refresh_enqueue(actor=request.user, full=request.POST.get("full") == "1")
    messages.success(request, _("The refresh runs in the background."))
    return redirect("jobs:detail", job.pk)
