"""Web pages: signing in and out, and the user's own profile (language, API tokens).

Sign-in is rate limited per client address and user name (``GUANXI_LOGIN_RATE_LIMIT``);
successful and failed sign-ins reach the audit log through ``guanxi.core.signals``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guanxi.core import selectors, services
from guanxi.core.forms import ApiTokenForm, LanguageForm
from guanxi.core.ratelimit import RateLimited, check_rate
from guanxi.core.views.guard import client_ip, staff_page


def remember_language(response, language: str):
    """Make ``language`` the language of every following page (Django's language cookie,
    the same one the header's language switcher sets)."""
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                        path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                        secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                        samesite=settings.LANGUAGE_COOKIE_SAMESITE)
    return response


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = (request.POST.get("username") or "").strip().lower()[:150]
        try:
            check_rate(f"{client_ip(request)}:{username}", "login")
        except RateLimited as limited:
            form = self.get_form_class()(request, initial={"username": username})
            response = self.render_to_response(
                self.get_context_data(form=form, retry_after=limited.retry_after), status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        return remember_language(response, form.get_user().language)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


def render_profile(request, *, language_form=None, token_form=None, new_token=None, status=200):
    response = render(request, "core/profile.html", {
        "language_form": language_form or LanguageForm(initial={"language": request.user.language}),
        "token_form": token_form or ApiTokenForm(),
        "tokens": selectors.api_tokens_of(request.user),
        "new_token": new_token,
    }, status=status)
    if new_token:
        response["Cache-Control"] = "no-store"  # the clear token is shown once and never cached
    return response


@staff_page
@require_GET
def profile(request):
    return render_profile(request)


@staff_page
@require_POST
def profile_language(request):
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return render_profile(request, language_form=form, status=400)
    user = services.user_set_language(actor=request.user, language=form.cleaned_data["language"])
    messages.success(request, _("Language saved."))
    return remember_language(redirect("core:profile"), user.language)


@staff_page
@require_POST
def token_create(request):
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return render_profile(request, token_form=form, status=400)
    token, clear = services.api_token_create(actor=request.user, user=request.user, name=form.cleaned_data["name"])
    return render_profile(request, new_token={"token": token, "clear": clear}, status=201)


@staff_page
@require_POST
def token_revoke(request, token_id: int):
    services.api_token_revoke(actor=request.user, token_id=token_id)
    messages.success(request, _("Token revoked. Programs using it can no longer sign in."))
    return redirect("core:profile")


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", profile, name="profile"),
    path("profile/language/", profile_language, name="profile_language"),
    path("profile/tokens/", token_create, name="token_create"),
    path("profile/tokens/<int:token_id>/revoke/", token_revoke, name="token_revoke"),
]
