"""Event pages: list, form, the event page (registrations, attendance, follow-up) and the
public registration form."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.marketing import selectors, services, tracking
from guanxi.marketing.forms import EventForm, RegistrationForm
from guanxi.marketing.models import RegistrationStatus

EVENT_FIELDS = ("name", "slug", "description", "starts_at", "ends_at", "venue", "address", "capacity",
                "registration_open", "reminder_hours")


@staff_page
def event_list(request):
    return render(request, "marketing/event_list.html", {
        "section": "events", "events": list(selectors.event_list(request.user)[:200]),
        "may_create": can(request.user, selectors.EVENT, "create")})


@staff_page
@require_http_methods(["GET", "POST"])
def event_create(request):
    if not can(request.user, selectors.EVENT, "create"):
        raise PermissionDenied(_("You may not create events."))
    return _event_form(request, None)


@staff_page
@require_http_methods(["GET", "POST"])
def event_edit(request, event_id: int):
    return _event_form(request, selectors.access_event_by_id(request.user, event_id, "change"))


def _event_form(request, event):
    initial = {field: getattr(event, field) for field in EVENT_FIELDS} if event else {"reminder_hours": 24,
                                                                                      "registration_open": True}
    form = EventForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if event is None:
                event = services.event_create(actor=request.user, data=form.to_service_data())
            else:
                event = services.event_update(actor=request.user, event_id=event.pk, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Event “%(name)s” saved.") % {"name": event.name})
            return redirect("marketing:event_detail", event.pk)
    return render(request, "marketing/event_form.html", {
        "section": "events", "form": form, "event": event,
        "title": _("Edit event %(name)s") % {"name": event.name} if event else _("New event"),
        "cancel_url": reverse("marketing:event_detail", args=[event.pk]) if event else
        reverse("marketing:event_list")}, status=400 if request.method == "POST" else 200)


@staff_page
def event_detail(request, event_id: int):
    return _event_page(request, event_id)


def _event_page(request, event_id: int, status: int = 200):
    """The event page; after a refused action it comes back with the reason and the 4xx status."""
    event = selectors.access_event_by_id(request.user, event_id)
    registrations = list(selectors.event_registrations(request.user, event.pk))
    seated = sum(1 for item in registrations if item.status in (RegistrationStatus.REGISTERED,
                                                               RegistrationStatus.ATTENDED))
    return render(request, "marketing/event_detail.html", {
        "section": "events", "event": event, "registrations": registrations, "seated": seated,
        "waitlisted": sum(1 for item in registrations if item.status == RegistrationStatus.WAITLISTED),
        "registration_url": tracking.event_registration_url(event),
        "may_change": can(request.user, selectors.EVENT, "change") and
        selectors.visible_events(request.user, "change").filter(pk=event.pk).exists(),
        "may_follow_up": can(request.user, selectors.CAMPAIGN, "create"),
        "campaigns": list(event.campaigns.all()[:20]),
    }, status=status)


@staff_page
@require_POST
def event_action(request, event_id: int, action: str):
    user = request.user
    try:
        if action == "attendance":
            ids = [int(value) for value in request.POST.getlist("registration") if value.isdigit()]
            changed = services.registrations_mark_attendance(actor=user, event_id=event_id, registration_ids=ids,
                                                             attended=request.POST.get("attended", "1") == "1")
            messages.success(request, _("Attendance recorded for %(count)d people.") % {"count": changed})
        elif action == "cancel-registration":
            services.registration_cancel(actor=user, registration_id=int(request.POST.get("registration", 0)))
            messages.success(request, _("Registration cancelled."))
        elif action == "follow-up":
            campaign = services.event_follow_up(actor=user, event_id=event_id,
                                                audience=request.POST.get("audience", RegistrationStatus.ATTENDED))
            messages.success(request, _("Follow-up campaign created as a draft: choose its template and launch it."))
            return redirect("marketing:campaign_detail", campaign.pk)
        elif action == "delete":
            services.event_delete(actor=user, event_id=event_id)
            messages.success(request, _("Event deleted."))
            return redirect("marketing:event_list")
        else:
            raise Http404(action)
    except ValidationError as error:
        for texts in (error.message_dict.values() if hasattr(error, "error_dict") else [error.messages]):
            for text in texts:
                messages.error(request, text)
        return _event_page(request, event_id, status=400)
    except (Conflict, NotFound) as error:
        messages.error(request, str(error))
        return _event_page(request, event_id, status=409 if isinstance(error, Conflict) else 404)
    return redirect("marketing:event_detail", event_id)


@require_http_methods(["GET", "POST"])
def event_register(request, slug: str):
    """The public registration form (no sign-in)."""
    try:
        event = selectors.event_by_slug(slug)
    except NotFound:
        raise Http404(slug) from None
    form = RegistrationForm(request.POST or None)
    closed = None
    if request.method == "POST" and form.is_valid():
        try:
            registration = services.event_register(slug=slug, data=form.cleaned_data,
                                                   campaign_id=request.GET.get("c") or request.POST.get("c"),
                                                   ip_address=client_ip(request))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            closed = str(error)
        else:
            return render(request, "marketing/public/registered.html", {"event": event,
                                                                         "registration": registration})
    return render(request, "marketing/public/register.html", {
        "event": event, "form": form, "closed": closed, "campaign": request.GET.get("c", "")},
        status=400 if request.method == "POST" else 200)
