"""Web pages of the contact center: agent desktop, wallboard, reports, Erlang calculator,
IVR menu editor, phone simulator, call pages, and the calls panel of the 360° page.

Pages stay thin: they read through ``selectors`` and write through ``services``; the
desktop and the wallboard update themselves over WebSockets (``consumers``) and act through
the REST API (``api``).
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.contactcenter import erlang, selectors, services
from guanxi.contactcenter.cti import TwilioAdapter
from guanxi.contactcenter.forms import (
    CallFilterForm, ErlangForm, IvrMenuForm, NewContactFromCallForm, ReportForm, SimulatorCallForm,
)
from guanxi.contactcenter.models import AgentStateKind, AwayReason
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window

logger = logging.getLogger(__name__)


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


@staff_page
@require_http_methods(["GET", "POST"])
def call_new_contact(request, call_id: int):
    """The "create contact" card of an unknown caller, as a page."""
    call = selectors.access_call_by_id(request.user, call_id, "change")
    form = NewContactFromCallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {"full_name": form.cleaned_data["full_name"]}
        if form.cleaned_data.get("email"):
            data["email"] = form.cleaned_data["email"]
        try:
            contact = services.call_create_contact(actor=request.user, call_id=call.pk, data=data)
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Contact created and linked to the call."))
            return redirect("core:contact_360", contact.pk)
    return render(request, "contactcenter/call_new_contact.html", {"form": form, "call": call},
                  status=400 if request.method == "POST" else 200)


# ======================================================================================
# Agent desktop, wallboard, reports
# ======================================================================================
@staff_page
def desktop(request):
    profile = selectors.own_agent_profile(request.user)
    if profile is None:
        return render(request, "contactcenter/desktop_not_agent.html", status=403)
    data = selectors.desktop(request.user)
    queues = selectors.queue_list(request.user, active_only=True) if can(request.user, "queue", "view") else []
    return render(request, "contactcenter/desktop.html", {
        "agent": profile, "data": data,
        "dispositions": [{"id": item.pk, "label": item.label, "requires_notes": item.requires_notes}
                         for item in data["dispositions"]],
        "to_finish": [{"call_id": call.pk, "ani": call.ani_e164 or call.ani,
                       "customer": call.contact.full_name if call.contact_id else ""} for call in data["to_finish"]],
        "away_reasons": [
            (value, label) for value, label in AwayReason.choices
            if value not in (AwayReason.MISSED_OFFERS, AwayReason.NOT_READY)],
        "queues": queues, "labels": desktop_labels(), "script": static("contactcenter/desktop.js"),
    })


def desktop_labels() -> dict:
    """Words the desktop script needs, in the page's language."""
    return {
        "answer": _("Answer"), "decline": _("Decline"), "hold": _("Hold"), "unhold": _("Resume"),
        "hangup": _("Hang up"), "transfer": _("Transfer"), "conference": _("Add to call"),
        "save": _("Save disposition"), "disposition": _("Disposition"), "notes": _("Notes"),
        "no_calls": _("No calls right now."), "ringing": _("Incoming call"), "connected": _("On the call"),
        "held": _("On hold"), "unknown_caller": _("Unknown caller"), "create_contact": _("Create contact"),
        "open_360": _("Open the customer's 360° page"), "value_tier": _("Value tier"), "account": _("Account"),
        "lifecycle": _("Lifecycle stage"), "recent": _("Recent contacts"), "ivr": _("Captured in the IVR"),
        "queue": _("Queue"), "waited": _("Waited"), "seconds": _("s"), "scripts": _("Scripts"),
        "transfer_queue": _("Transfer to queue"), "transfer_number": _("or to number"),
        "conference_number": _("Number to add"), "matches": _("%(count)s contacts share this number."),
        "error": _("The action failed: %(reason)s"), "saved": _("Saved."), "to_finish": _("Calls to finish"),
        "live_paused": _("Live updates are paused; reload the page."), "interactions": _("Interactions"),
        "state_changed": _("Your state: %(state)s"), "call_arrived": _("Incoming call from %(caller)s"),
    }


@staff_page
def wallboard(request):
    snapshot = selectors.wallboard(request.user)
    return render(request, "contactcenter/wallboard.html", {
        "snapshot": snapshot, "script": static("contactcenter/wallboard.js"),
        "state_labels": dict(AgentStateKind.choices), "labels": {
            "none": "—", "updated": _("Updated %(time)s"), "live_paused": _("Live updates are paused; reload."),
        },
    })


@staff_page
def reports(request):
    form = ReportForm(request.GET or None)
    rows = None
    status = 200
    if form.is_bound and form.is_valid():
        since, until = form.period()
        try:
            rows = selectors.call_report(request.user, group_by=form.cleaned_data["group_by"], since=since,
                                         until=until, interval_minutes=form.cleaned_data["interval_minutes"],
                                         queue_id=form.cleaned_data["queue"].pk if form.cleaned_data["queue"]
                                         else None)
        except ValidationError as error:
            for field_name, messages_of_field in error.message_dict.items():
                for message in messages_of_field:
                    form.add_error(field_name if field_name in form.fields else None, message)
            status = 400
    elif form.is_bound:
        status = 400
    else:
        selectors.wallboard(request.user)  # the right to see figures
    if rows is not None and request.GET.get("format") == "csv":
        return _report_csv(rows, form.cleaned_data["group_by"])
    return render(request, "contactcenter/reports.html", {"form": form, "rows": rows}, status=status)


REPORT_COLUMNS = ("label", "offered", "answered", "abandoned", "short_abandoned", "timed_out", "service_level",
                  "service_level_2", "service_level_offered", "average_speed_of_answer", "abandon_rate",
                  "average_handle_time")


def _report_csv(rows: list[dict], group_by: str) -> HttpResponse:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = REPORT_COLUMNS + (("occupancy",) if group_by == "agent" else ())
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row.get(column) for column in columns])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contact-center-{group_by}.csv"'
    return response


@staff_page
def erlang_calculator(request):
    """Agents needed for a service level goal (Erlang C, or Erlang A with patience), and the
    figures around that staffing."""
    form = ErlangForm(request.GET or None)
    result = None
    table = []
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        patience = values.get("average_patience")
        occupancy_cap = values.get("max_occupancy")
        try:
            result = erlang.required_agents(
                calls_per_hour=values["calls_per_hour"], average_handle_time=values["average_handle_time"],
                target_seconds=values["target_seconds"], service_level=values["service_level"] / 100,
                average_patience=patience, max_occupancy=occupancy_cap / 100 if occupancy_cap else None,
                max_agents=20_000)
        except ValueError as error:
            form.add_error(None, _("No staffing up to 20,000 agents reaches this goal.")
                           if "no staffing" in str(error) else str(error))
        else:
            low = max(1, result.agents - 3)
            for agents in range(low, result.agents + 4):
                row = {"agents": agents, "chosen": agents == result.agents,
                       "c": erlang.erlang_c_figures(calls_per_hour=values["calls_per_hour"],
                                                    average_handle_time=values["average_handle_time"],
                                                    agents=agents, target_seconds=values["target_seconds"])}
                if patience:
                    row["a"] = erlang.erlang_a_figures(calls_per_hour=values["calls_per_hour"],
                                                       average_handle_time=values["average_handle_time"],
                                                       agents=agents, target_seconds=values["target_seconds"],
                                                       average_patience=patience)
                table.append(row)
    return render(request, "contactcenter/erlang.html", {"form": form, "result": result, "table": table},
                  status=400 if form.is_bound and not form.is_valid() else 200)


# ======================================================================================
# IVR menus
# ======================================================================================
EXAMPLE_MENU = """name: Customer line
language: zh-hans
start: welcome
nodes:
  welcome:
    type: prompt
    say: {en: "Welcome to Guanxi.", zh-hans: "欢迎致电关系客服。"}
    next: main
  main:
    type: menu
    say: {en: "For your balance press 1. For an agent press 0.", zh-hans: "查询余额请按1，人工服务请按0。"}
    options: {"1": account, "0": agent}
    on_failure: agent
  account:
    type: capture
    say: {en: "Enter your account number, then the hash key.", zh-hans: "请输入您的账号，以井号键结束。"}
    field: account_number
    min_digits: 6
    max_digits: 12
    next: agent
    on_failure: agent
  agent:
    type: queue
    queue: billing
    say: {en: "Please hold for an agent.", zh-hans: "正在为您转接人工服务，请稍候。"}
"""


@staff_page
def ivr_menu_list(request):
    menus = selectors.ivr_menu_list(request.user)
    return render(request, "contactcenter/ivr_menu_list.html", {
        "menus": menus, "may_create": can(request.user, "ivr_menu", "create")})


@staff_page
@require_http_methods(["GET", "POST"])
def ivr_menu_edit(request, menu_id: int | None = None):
    """The menu editor: a text area checked on save, each problem shown with its line."""
    menu = selectors.access_ivr_menu_by_id(request.user, menu_id, "change") if menu_id else None
    if menu is None and not can(request.user, "ivr_menu", "create"):
        raise PermissionDenied(_("You may not create IVR menus."))
    initial = ({"name": menu.name, "numbers": ", ".join(menu.numbers), "source": menu.source,
                "is_active": menu.is_active} if menu else {"source": EXAMPLE_MENU, "is_active": True})
    form = IvrMenuForm(request.POST or None, initial=initial)
    problems = []
    if request.method == "POST" and form.is_valid():
        data = form.to_service_data()
        try:
            if menu is None:
                menu = services.ivr_menu_create(actor=request.user, data=data)
            else:
                menu = services.ivr_menu_update(actor=request.user, menu_id=menu.pk, data=data)
        except ValidationError as error:
            form.apply_service_errors(error)
            problems = services.ivr_menu_problems(data["source"])
        else:
            messages.success(request, _("IVR menu saved."))
            return redirect("contactcenter:ivr_menu_edit", menu.pk)
    return render(request, "contactcenter/ivr_menu_edit.html", {
        "form": form, "menu": menu, "problem_lines": sorted({problem.line for problem in problems if problem.line}),
        "check_url": "/api/v1/contact-center/ivr-menus/check",
    }, status=400 if request.method == "POST" else 200)


# ======================================================================================
# Phone simulator and Twilio webhooks
# ======================================================================================
@staff_page
def simulator(request):
    """A phone in the browser: dial a service number, hear the IVR as text, press keys."""
    if not can(request.user, "call", "create"):
        raise PermissionDenied(_("You may not place simulated calls."))
    numbers = sorted({number for menu in selectors.ivr_menu_list(request.user).filter(is_active=True)
                      for number in menu.numbers} if can(request.user, "ivr_menu", "view") else set())
    return render(request, "contactcenter/simulator.html", {
        "form": SimulatorCallForm(initial={"dnis": numbers[0] if numbers else ""}), "numbers": numbers,
        "script": static("contactcenter/simulator.js"), "labels": {
            "ivr": _("IVR"), "caller": _("You"), "no_input": _("(no keys)"), "queued": _("Waiting for an agent…"),
            "ringing": _("Ringing at an agent…"), "connected": _("Connected to %(agent)s"),
            "ended": _("Call ended: %(reason)s"), "error": _("Failed: %(reason)s"),
        }})


@csrf_exempt
@require_POST
def twilio_voice(request):
    adapter = TwilioAdapter()
    if not adapter.configured:
        return HttpResponse(_("Twilio is not configured (GUANXI_TWILIO_AUTH_TOKEN)."), status=503,
                            content_type="text/plain; charset=utf-8")
    if not adapter.signature_valid(request):
        logger.warning("Twilio voice webhook refused: bad or missing signature from %s", client_ip(request))
        return HttpResponseForbidden(_("Invalid Twilio signature."), content_type="text/plain; charset=utf-8")
    return HttpResponse(adapter.voice(request), content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_POST
def twilio_status(request):
    adapter = TwilioAdapter()
    if not adapter.configured:
        return HttpResponse(status=503)
    if not adapter.signature_valid(request):
        logger.warning("Twilio status callback refused: bad or missing signature from %s", client_ip(request))
        return HttpResponseForbidden()
    adapter.status(request)
    return HttpResponse(status=204)
