"""Activity pages: the calendar (day, week, month), the activity form and page, completing
activities, and the user's secret iCal feed URL."""

from __future__ import annotations

import calendar as month_calendar
import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.sales import selectors, services
from guanxi.sales.forms import ActivityForm
from guanxi.sales.models import CalendarFeed
from guanxi.sales.views.common import back_to, may, messages_of

VIEWS = ("day", "week", "month")


def _day(raw: str | None) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw or "")
    except ValueError:
        return timezone.localdate()


def _window(view: str, day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """First day shown and the day after the last."""
    if view == "day":
        return day, day + datetime.timedelta(days=1)
    if view == "week":
        start = day - datetime.timedelta(days=day.weekday())
        return start, start + datetime.timedelta(days=7)
    first = day.replace(day=1)
    start = first - datetime.timedelta(days=first.weekday())
    last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
    end = last + datetime.timedelta(days=7 - last.weekday())
    return start, end


def _moved(view: str, day: datetime.date, steps: int) -> datetime.date:
    if view == "day":
        return day + datetime.timedelta(days=steps)
    if view == "week":
        return day + datetime.timedelta(weeks=steps)
    month = day.month - 1 + steps
    year = day.year + month // 12
    month = month % 12 + 1
    return datetime.date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@staff_page
def calendar(request):
    """Day, week or month of activities: the user's own, or everyone's they may see."""
    user = request.user
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "week"
    day = _day(request.GET.get("date"))
    everyone = request.GET.get("who") == "all"
    start, end = _window(view, day)
    activities = list(selectors.activity_list(user, selectors.ActivityFilters(
        owner_id=None if everyone else user.pk, start=_aware(start), end=_aware(end)))[:1000])
    by_day: dict[datetime.date, list] = {}
    for activity in activities:
        by_day.setdefault(timezone.localtime(activity.start_at).date(), []).append(activity)
    days = []
    current = start
    while current < end:
        days.append({"date": current, "activities": by_day.get(current, []), "in_month": current.month == day.month,
                     "today": current == timezone.localdate()})
        current += datetime.timedelta(days=1)
    weeks = [days[index:index + 7] for index in range(0, len(days), 7)]
    return render(request, "sales/calendar.html", {
        "view": view, "day": day, "days": days, "weeks": weeks, "everyone": everyone, "now": timezone.now(),
        "previous": _moved(view, day, -1).isoformat(), "next": _moved(view, day, 1).isoformat(),
        "today": timezone.localdate().isoformat(), "may_create": can(user, "activity", "create"),
        "has_feed": CalendarFeed.objects.filter(user=user).exists(),
        "weekday_names": [datetime.date(2024, 1, 1 + offset) for offset in range(7)],
    })


@staff_page
@require_http_methods(["GET", "POST"])
def calendar_feed_settings(request):
    """Issue (shown once) or revoke the secret iCal URL."""
    feed_url = ""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(actor=request.user)
            messages.success(request, _("Your calendar feed URL no longer works."))
            return redirect("sales:calendar_feed_settings")
        secret = services.calendar_feed_issue(actor=request.user)
        feed_url = request.build_absolute_uri(reverse("sales:calendar_feed", args=[secret]))
    return render(request, "sales/calendar_feed.html", {
        "feed_url": feed_url, "feed": CalendarFeed.objects.filter(user=request.user).first()})


@staff_page
def activity_detail(request, activity_id: int):
    activity = selectors.access_activity_by_id(request.user, activity_id)
    return render(request, "sales/activity_detail.html", {
        "activity": activity, "may_change": may(selectors.visible_activities, request.user, "change", activity.pk),
        "may_delete": may(selectors.visible_activities, request.user, "delete", activity.pk)})


def _initial_links(request) -> dict:
    initial = {}
    for name in ("account", "contact", "lead", "opportunity"):
        value = request.GET.get(name)
        if value and value.isdigit():
            initial[name] = int(value)
    start = request.GET.get("date")
    moment = timezone.localtime().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    if start:
        moment = timezone.make_aware(datetime.datetime.combine(_day(start), datetime.time(9, 0)))
    initial.setdefault("start_at", moment)
    return initial


@staff_page
@require_http_methods(["GET", "POST"])
def activity_create(request):
    user = request.user
    if not can(user, "activity", "create"):
        raise PermissionDenied(_("You may not plan activities."))
    form = ActivityForm(request.POST or None, initial=_initial_links(request))
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_create(actor=user, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("“%(subject)s” planned.") % {"subject": activity.subject})
            return redirect("sales:activity_detail", activity_id=activity.pk)
    return render(request, "core/record_form.html", {"form": form, "title": _("Plan an activity"),
                                                     "cancel_url": reverse("sales:calendar")},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def activity_edit(request, activity_id: int):
    user = request.user
    activity = selectors.access_activity_by_id(user, activity_id, "change")
    initial = {name: getattr(activity, name) for name in ("kind", "subject", "start_at", "end_at", "all_day",
                                                          "location", "channel", "priority", "is_callback",
                                                          "callback_phone", "description")}
    initial["start_at"] = timezone.localtime(activity.start_at)
    initial["end_at"] = timezone.localtime(activity.end_at) if activity.end_at else None
    initial["owner"] = activity.owner_id
    if activity.reminder_at:
        initial["reminder_minutes"] = int((activity.start_at - activity.reminder_at).total_seconds() // 60)
    form = ActivityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.to_service_data()
        for name in ("account_id", "contact_id", "lead_id", "opportunity_id"):
            data.pop(name, None)  # links stay as they are
        try:
            services.activity_update(actor=user, activity_id=activity.pk, data=data)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Activity saved."))
            return redirect("sales:activity_detail", activity_id=activity.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("Edit %(subject)s") % {"subject": activity.subject},
        "cancel_url": reverse("sales:activity_detail", args=[activity.pk])},
        status=400 if request.method == "POST" else 200)


@staff_page
@require_POST
def activity_action(request, activity_id: int, action: str):
    user = request.user
    try:
        if action == "complete":
            services.activity_complete(actor=user, activity_id=activity_id, outcome=request.POST.get("outcome", ""))
            messages.success(request, _("Done — and recorded on the customer's timeline."))
        elif action == "cancel":
            services.activity_cancel(actor=user, activity_id=activity_id, reason=request.POST.get("reason", ""))
            messages.success(request, _("Activity cancelled."))
        elif action == "delete":
            services.activity_delete(actor=user, activity_id=activity_id)
            messages.success(request, _("Activity deleted."))
            return redirect("sales:calendar")
    except Conflict as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, messages_of(error))
    return back_to(request, reverse("sales:activity_detail", args=[activity_id]))
