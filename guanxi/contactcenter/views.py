"""Web pages of the contact center: agent desktop, wallboard, reports, Erlang calculator,
IVR menu editor, phone simulator, call pages, and the calls panel of the 360° page.

Pages stay thin: they read through ``selectors`` and write through ``services``; the
desktop and the wallboard update themselves over WebSockets (``consumers``) and act through
the REST API (``api``).
"""

from __future__ import annotations

from django.shortcuts import render

from guanxi.contactcenter import selectors
from guanxi.contactcenter.forms import CallFilterForm
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window


# ======================================================================================
# Panels on pages of other domains
# ======================================================================================
def contact_calls_panel(request, contact) -> dict | None:
    """The customer's latest contact-center calls, beside the timeline."""
    try:
        calls = selectors.contact_calls(request.user, contact.pk)
    except PermissionDenied:
        return None
    return {"calls": calls}


# ======================================================================================
# Calls
# ======================================================================================
@staff_page
def call_list(request):
    form = CallFilterForm(request.GET)
    window = None
    if form.is_valid():
        filters = selectors.CallFilters(state=form.cleaned_data["state"], queue_id=form.cleaned_data["queue"] and
                                        form.cleaned_data["queue"].pk,
                                        agent_id=request.user.pk if form.cleaned_data["mine"] else None)
        window = page_window(selectors.call_list(request.user, filters), request.GET.get("page"))
    else:
        selectors.visible_calls(request.user)
    return render(request, "contactcenter/call_list.html", {"form": form, "window": window},
                  status=200 if window is not None else 400)


@staff_page
def call_detail(request, call_id: int):
    call = selectors.access_call_by_id(request.user, call_id)
    events = selectors.call_events(request.user, call.pk)
    return render(request, "contactcenter/call_detail.html", {
        "call": call, "events": events, "ivr": selectors.ivr_display(call.ivr_data),
        "transcript": call.ivr_session.transcript if hasattr(call, "ivr_session") else [],
    })
