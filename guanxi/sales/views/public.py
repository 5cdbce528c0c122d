"""Pages without sign-in: the embeddable web-to-lead form, the customer's quote page with
its signed accept link, and the iCal feed behind its secret URL."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import override
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from guanxi.core.errors import Conflict, NotFound
from guanxi.core.ratelimit import RateLimited, check_rate
from guanxi.core.views.guard import client_ip
from guanxi.sales import ical, selectors, services
from guanxi.sales.documents import quote_pdf
from guanxi.sales.forms import WebToLeadForm
from guanxi.sales.models import LeadSource
from guanxi.sales.tasks import site_url

FORM_SALT = "guanxi.sales.web-to-lead"
MIN_SECONDS_TO_FILL = 2          # people need longer than this; scripts do not
MAX_FORM_AGE = 24 * 3600         # a form left open a day is shown afresh


def web_form_rate() -> str:
    return getattr(settings, "GUANXI_WEB_FORM_RATE_LIMIT", "5/m")


def form_token() -> str:
    return signing.TimestampSigner(salt=FORM_SALT).sign(str(int(time.time())))


def _token_problem(token: str) -> str | None:
    """Why the signed time stamp does not pass, or None."""
    try:
        issued = int(signing.TimestampSigner(salt=FORM_SALT).unsign(token or "", max_age=MAX_FORM_AGE))
    except signing.SignatureExpired:
        return _("This form was open too long. It has been reloaded: please send it again.")
    except (signing.BadSignature, ValueError):
        return _("This form could not be verified. It has been reloaded: please send it again.")
    if time.time() - issued < MIN_SECONDS_TO_FILL:
        return _("That was quicker than a person can type. Please check the form and send it again.")
    return None


@csrf_exempt  # embedded on other sites, where our CSRF cookie is not sent; the signed token stands in for it
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def web_to_lead(request):
    """The public enquiry form. Embeddable (``?embed=1`` drops the site frame), protected
    by a honeypot field, a signed time stamp and a per-address rate limit. Leads go to a
    rep by the assignment rules; ``?campaign=`` names the source campaign."""
    embed = request.GET.get("embed") == "1" or request.POST.get("embed") == "1"
    template = "sales/public/web_to_lead.html"
    context = {"embed": embed}
    if request.method == "GET":
        form = WebToLeadForm(initial={"token": form_token(), "campaign": request.GET.get("campaign", "")[:200],
                                      "campaign_id": request.GET.get("campaign_id") or None})
        return render(request, template, {**context, "form": form})
    try:
        check_rate(client_ip(request) or "unknown", "web_to_lead", rate=web_form_rate())
    except RateLimited as error:
        response = render(request, "sales/public/message.html", {
            **context, "title": _("Too many requests"),
            "message": _("Please wait a minute before sending the form again.")}, status=429)
        response["Retry-After"] = str(error.retry_after)
        return response
    form = WebToLeadForm(request.POST)
    if request.POST.get("website"):
        # A bot filled the field people never see: thank it, keep nothing.
        return render(request, "sales/public/message.html", {**context, "title": _("Thank you"),
                                                             "message": _("We will be in touch soon.")})
    problem = _token_problem(request.POST.get("token", ""))
    if problem is None and form.is_valid():
        data = form.cleaned_data
        try:
            services.lead_create(actor=None, ip_address=client_ip(request), data={
                "family_name": data["family_name"], "given_name": data.get("given_name", ""),
                "company": data.get("company", ""), "email": data.get("email", ""), "phone": data.get("phone", ""),
                "city": data.get("city", ""), "description": data.get("message", ""),
                "source": LeadSource.WEB_FORM, "campaign_name": data.get("campaign", ""),
                "campaign_id": data.get("campaign_id")})
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return render(request, "sales/public/message.html", {
                **context, "title": _("Thank you"),
                "message": _("We received your enquiry and will be in touch soon.")})
    if problem:
        form = WebToLeadForm(request.POST.copy())
        form.data["token"] = form_token()
        form.is_valid()
        form.add_error(None, problem)
    else:
        form.data = form.data.copy()
        form.data["token"] = request.POST.get("token", "")
    return render(request, template, {**context, "form": form}, status=400)


def _quote_for(token: str):
    try:
        return services.quote_from_token(token)
    except NotFound:
        raise Http404(_("This link is not valid.")) from None


@csrf_exempt  # opened from an email; the signed link is the credential, the quote number its scope
@require_http_methods(["GET", "POST"])
def quote_accept_page(request, token: str):
    """The customer's page of a quote: read it, download the PDF, accept (signing with a
    name) or decline. Conflicts — expired, replaced by a newer version, already decided —
    answer 409 with the reason, and nothing changes."""
    quote = _quote_for(token)
    with override(quote.language):
        context = {"quote": quote, "lines": selectors.quote_lines(quote), "token": token}
        if request.method == "POST":
            action = request.POST.get("action")
            try:
                if action == "decline":
                    services.quote_decline(actor=None, quote_id=quote.pk,
                                           reason=request.POST.get("reason", "")[:300], ip_address=client_ip(request))
                    context["done"] = _("You declined this quote. Thank you for letting us know.")
                else:
                    services.quote_accept(actor=None, quote_id=quote.pk,
                                          accepted_by_name=request.POST.get("accepted_by_name", ""),
                                          ip_address=client_ip(request))
                    context["done"] = _("Thank you: you accepted quote %(number)s. We will send the order "
                                        "confirmation.") % {"number": quote.display_number}
            except Conflict as error:
                context["problem"] = str(error)
                return render(request, "sales/public/quote.html", context, status=409)
            except ValidationError as error:
                context["problem"] = " ".join(error.messages)
                return render(request, "sales/public/quote.html", context, status=400)
            quote.refresh_from_db()
        return render(request, "sales/public/quote.html", context)


def quote_public_pdf(request, token: str):
    quote = _quote_for(token)
    response = HttpResponse(quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{quote.display_number}.pdf"'
    return response


def calendar_feed(request, secret: str):
    """``/sales/calendar/<secret>.ics``: the owner's activities for calendar apps."""
    user = services.calendar_feed_user(secret)
    if user is None:
        raise Http404(_("Unknown calendar."))
    body = ical.calendar(selectors.calendar_feed_activities(user), name=f"Guanxi · {user}", site=site_url())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="guanxi.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
