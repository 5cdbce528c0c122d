"""The REST API under /api/v1/: one NinjaAPI, a router per domain.

Authentication: a bearer token (``Authorization: Bearer gx_…``, see ``ApiToken``) or the
browser session (with CSRF). Domain errors map to HTTP here, once:
ValidationError → 422 with ``{"detail", "errors": {field: [messages]}}``,
NotFound → 404, PermissionDenied → 403, Conflict → 409, rate limit → 429.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from guanxi.core.errors import Conflict, NotFound
from guanxi.core.ratelimit import RateLimited, check_rate


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        from guanxi.core.services import api_token_authenticate

        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
            check_rate(f"api:{user.pk}", "api")
        return user


class SessionAuth(APIKeyCookie):
    """The browser session, for the web UI's own calls.

    Only a signed-in session counts; for it, unsafe methods (POST, PATCH, DELETE) must
    carry the CSRF token in ``X-CSRFToken``, as for any Django form. Without a session the
    next scheme answers (in the end: 401), so a bad bearer token is never mistaken for a
    CSRF failure.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise HttpError(403, _("CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header."))
        check_rate(f"api:{user.pk}", "api")
        return user

    def authenticate(self, request, key):  # pragma: no cover - __call__ does the work
        return None


api = NinjaAPI(
    title="Guanxi CRM API",
    version="1",
    description=(
        "REST API of Guanxi CRM. Authenticate with `Authorization: Bearer <token>` (a signed-in user "
        "issues one with `POST /api/v1/tokens`; it is shown once) or with the browser session, where "
        "unsafe methods need the `X-CSRFToken` header. Lists take `limit` and `offset`, answer "
        "`{items, next, count}` and count only with `count=true`. Bad input answers 422 with "
        "`{detail, errors: {field: [messages]}}`; a stale `version` answers 409; too many requests "
        "answer 429 with `Retry-After`."
    ),
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    docs_url="/docs",
)


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: list(messages) for field, messages in error.message_dict.items()}
    return {"__all__": list(error.messages)}


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    return api.create_response(request, {"detail": _("Invalid input."), "errors": _field_errors(exc)}, status=422)


@api.exception_handler(NinjaValidationError)
def _schema_error(request, exc):
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        location = [str(part) for part in item.get("loc", []) if part not in ("body", "query", "path", "payload")]
        errors.setdefault(".".join(location) or "__all__", []).append(item.get("msg", _("Invalid value.")))
    return api.create_response(request, {"detail": _("Invalid input."), "errors": errors}, status=422)


@api.exception_handler(NotFound)
def _not_found(request, exc):
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": _("You do not have permission to do this.")}, status=403)


@api.exception_handler(Conflict)
def _conflict(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    response = api.create_response(request, {"detail": _("Too many requests; slow down.")}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    response = api.create_response(request, {"detail": _("Authentication required.")}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _register_routers() -> None:
    from guanxi.analytics.api import router as analytics_router
    from guanxi.contactcenter.api import router as contactcenter_router
    from guanxi.core.api import router as core_router
    from guanxi.interactions.api import router as interactions_router
    from guanxi.interactions.api import timeline_router
    from guanxi.jobs.api import router as jobs_router
    from guanxi.marketing.api import router as marketing_router
    from guanxi.sales.api import router as sales_router
    from guanxi.service.api import router as service_router

    api.add_router("/", core_router)
    api.add_router("/contact-center", contactcenter_router)
    api.add_router("/analytics", analytics_router)
    # /contacts/{id}/timeline and /accounts/{id}/timeline: served by the interactions domain,
    # which core may not import (STYLE: dependencies point towards core).
    api.add_router("/", timeline_router)
    api.add_router("/interactions", interactions_router)
    api.add_router("/jobs", jobs_router)
    api.add_router("/marketing", marketing_router)
    api.add_router("/sales", sales_router)
    api.add_router("/service", service_router)


_register_routers()
