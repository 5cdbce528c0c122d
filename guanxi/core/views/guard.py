"""What every web page of Guanxi does before its own work.

Pages are signed-in only; the selectors they call raise the domain errors of
``guanxi.core.errors``. ``PermissionDenied`` is Django's own, so Django already answers
it with the friendly ``403.html``; ``NotFound`` is turned into a 404 here, once, so that
a record outside the user's scope looks exactly like a record that does not exist.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from guanxi.core.errors import NotFound


def staff_page(view):
    """Require a signed-in user and map ``NotFound`` to HTTP 404."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(str(error)) from error

    return login_required(guarded)


def client_ip(request) -> str | None:
    """The address the request came from, for the audit log and login rate limits."""
    return request.META.get("REMOTE_ADDR") or None


def is_htmx(request) -> bool:
    """True for a partial refresh requested by htmx (it sends ``HX-Request: true``)."""
    return request.headers.get("HX-Request") == "true"
