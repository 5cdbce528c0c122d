"""Public pages a campaign's recipients reach without signing in: the open pixel, tracked
links, one-click unsubscribe (RFC 8058) and the web campaign's tracked entry link.

Every link is signed (``tracking``); a tampered one records nothing and answers 404.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from guanxi.marketing import services, tracking

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_GET
def track_open(request, token: str):
    services.track_open(token)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def track_click(request, token: str):
    try:
        target = services.track_click(token)
    except tracking.BadToken:
        raise Http404("bad link") from None
    return HttpResponseRedirect(target)


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST —
    the button, or a mail client's one-click request — withdraws email consent."""
    try:
        request_data = tracking.read_unsubscribe_token(token)
    except tracking.BadToken:
        raise Http404("bad link") from None
    if request.method == "POST":
        try:
            services.contact_unsubscribe(token=token)
        except tracking.BadToken:
            raise Http404("bad link") from None
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(_("Unsubscribed."), content_type="text/plain; charset=utf-8")
        return render(request, "marketing/public/unsubscribed.html", {})
    return render(request, "marketing/public/unsubscribe.html", {"token": token,
                                                                  "contact_id": request_data.contact_id})
