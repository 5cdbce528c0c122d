"""Web pages of the service domain: as thin as the API — parse, call one selector or
service, render. Panels for the 360° pages and the home page are at the top."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Callable

import numpy as np
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.ratelimit import RateLimited, check_rate
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window
from guanxi.service import forms, reports, selectors, services, sla, sla_state
from guanxi.service.models import (
    ALLOWED_TRANSITIONS, Case, CaseCategory, CaseOrigin, CasePriority, CaseStatus, ServiceQueue, Survey,
)
from guanxi.service.services.surveys import survey_path, survey_token_from_link

HOME_CASES = 8
CONTACT_SUGGESTIONS = 12


# ======================================================================================
# Panels on pages of other domains
# ======================================================================================
def _customer_panel(request, *, contact_id=None, account_id=None) -> dict | None:
    try:
        cases = list(selectors.customer_cases(request.user, contact_id=contact_id, account_id=account_id)[:10])
    except PermissionDenied:
        return None
    return {"cases": cases, "satisfaction": selectors.satisfaction_of_customer(contact_id=contact_id,
                                                                              account_id=account_id),
            "new_case_url": reverse("service:case_create") + (f"?contact={contact_id}" if contact_id else ""),
            "may_create": can(request.user, "case", "create") and contact_id is not None}


def contact_cases_panel(request, contact) -> dict | None:
    return _customer_panel(request, contact_id=contact.pk)


def account_cases_panel(request, account) -> dict | None:
    return _customer_panel(request, account_id=account.pk)


def home_work_panel(request, _record=None) -> dict | None:
    try:
        mine = list(selectors.case_list(request.user, selectors.CaseFilters(status="open", mine=True),
                                        sort="due")[:HOME_CASES])
    except PermissionDenied:
        return None
    return {"cases": mine, "notifications": list(selectors.notifications_for(request.user)[:5])}


# ======================================================================================
# Cases
# ======================================================================================
def _sla_left(cases: list[Case]) -> dict[int, dict]:
    """Working time left and state of the listed cases, evaluated together (``sla_state``)."""
    with_policy = [case for case in cases if case.sla_policy_id and case.is_open]
    if not with_policy:
        return {}
    policies = {case.sla_policy_id: case.sla_policy for case in with_policy}
    order = list(policies)
    calendars = [sla.business_calendar(policies[pk].calendar) for pk in order]
    nan = float("nan")
    clocks = sla_state.CaseClocks(
        calendar=np.array([order.index(case.sla_policy_id) for case in with_policy], dtype=np.int32),
        created=np.array([case.created_at.timestamp() for case in with_policy]),
        first_response_target=np.array([case.first_response_target_seconds or nan for case in with_policy]),
        responded=np.array([case.first_responded_at is not None for case in with_policy]),
        resolution_target=np.array([case.resolution_target_seconds or nan for case in with_policy]),
        used=np.array([case.resolution_used_seconds for case in with_policy]),
        since=np.array([case.resolution_clock_since.timestamp() if case.resolution_clock_since else nan
                        for case in with_policy]),
        warning_share=np.array([policies[case.sla_policy_id].warning_percent / 100 for case in with_policy]))
    state = sla_state.evaluate(clocks, calendars, timezone.now().timestamp())
    result = {}
    for index, case in enumerate(with_policy):
        left = state.resolution_left[index]
        name = sla_state.STATE_NAMES[state.resolution_state[index]]
        minutes = None if np.isnan(left) else int(left // 60)
        if name == "paused":
            label = _("paused")
        elif minutes is None:
            label = ""
        elif minutes < 0:
            label = _("overdue by %(time)s") % {"time": working_time(-minutes)}
        else:
            label = _("%(time)s left") % {"time": working_time(minutes)}
        result[case.pk] = {"state": name, "first": sla_state.STATE_NAMES[state.first_response_state[index]],
                           "left_minutes": minutes, "label": label}
    return result


def working_time(minutes: int) -> str:
    """``95`` → ``1 h 35 min`` of working time."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)d min") % {"minutes": rest}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}


def _queues():
    return list(ServiceQueue.objects.filter(is_active=True).order_by("name"))


@staff_page
def case_list(request):
    selectors.visible_cases(request.user)  # a role without the right gets 403 before anything else
    data = request.GET.copy()
    data.setdefault("status", "open")
    form = forms.CaseFilterForm(data, queues=_queues())
    window = None
    if form.is_valid():
        cleaned = form.cleaned_data
        filters = selectors.CaseFilters(
            query=cleaned["q"].strip(), status=cleaned["status"], priority=cleaned["priority"],
            category=cleaned["category"], origin=cleaned["origin"], queue_id=cleaned["queue"],
            mine=cleaned["assigned"] == "mine", unassigned=cleaned["assigned"] == "unassigned",
            needs_triage=True if cleaned["triage"] else None, breached=True if cleaned["breached"] else None)
        cases = selectors.case_list(request.user, filters, cleaned["sort"] or "-created").select_related(
            "sla_policy__calendar")
        window = page_window(cases, request.GET.get("page"))
    active = any(request.GET.get(name) for name in forms.CaseFilterForm.filter_fields_names if name != "status")
    return render(request, "service/case_list.html", {
        "form": form, "window": window, "sla": _sla_left(window.items) if window else {},
        "active_filters": active, "may_create": can(request.user, "case", "create"),
    }, status=200 if window is not None else 400)


def _files(request) -> list[services.IncomingFile]:
    return [services.IncomingFile.from_upload(upload) for upload in request.FILES.getlist("attachments")]


@staff_page
@require_http_methods(["GET", "POST"])
def case_create(request):
    if not can(request.user, "case", "create"):
        raise PermissionDenied(_("You may not open cases."))
    contact = None
    if request.GET.get("contact"):
        try:
            contact = core_selectors.access_contact_by_id(request.user, request.GET["contact"])
        except NotFound:
            contact = None
    form = forms.CaseForm(request.POST or None, request.FILES or None, actor=request.user, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_open(actor=request.user, data=form.to_service_data(), attachments=_files(request),
                                      ip_address=client_ip(request))
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Case %(number)s opened.") % {"number": case.number})
            return redirect("service:case_detail", case_id=case.pk)
    return render(request, "service/case_form.html", {"form": form}, status=400 if request.method == "POST" else 200)


@staff_page
def case_form_suggestions(request):
    """Knowledge articles for what the agent is typing into a new case (htmx fragment)."""
    text = f"{request.GET.get('subject', '')}\n{request.GET.get('description', '')}".strip()
    try:
        suggestions = selectors.article_suggestions(request.user, text, language=translation.get_language())
    except PermissionDenied:
        suggestions = []
    return render(request, "service/includes/suggestions.html", {"suggestions": suggestions})


@staff_page
def contact_suggestions(request):
    """``<option>``s for contact boxes, refreshed by htmx as the user types."""
    query = (request.GET.get("contact") or request.GET.get("q") or "").strip()
    contacts = []
    if query and "#" not in query:
        try:
            contacts = list(core_selectors.contact_list(request.user, core_selectors.ContactFilters(query=query))
                            [:CONTACT_SUGGESTIONS])
        except PermissionDenied:
            contacts = []
    return render(request, "service/includes/contact_options.html", {"contacts": contacts})


def _case_page(request, case: Case, *, reply_form=None, status_form=None, assign_form=None, link_form=None,
               status: int = 200):
    user = request.user
    _case, thread = selectors.case_thread(user, case.pk)
    may_change = can(user, "case", "change") and selectors.visible_cases(user, "change").filter(pk=case.pk).exists()
    may_reply = selectors.visible_cases(user, "create", "case_message").filter(pk=case.pk).exists() \
        if can(user, "case_message", "create") else False
    people = [agent.user for agent in selectors.agent_list(user)] if may_change and can(
        user, "service_queue", "view") else []
    if may_change and user not in people and services.cases.may_work_cases(user):
        people.insert(0, user)
    try:
        suggestions = selectors.article_suggestions(user, f"{case.subject}\n{case.description}",
                                                    language=translation.get_language())
    except PermissionDenied:
        suggestions = []
    survey = Survey.objects.filter(case=case).first()
    visits = list(case.visits.select_related("technician").order_by("starts_at")) if can(
        user, "field_visit", "view") else []
    return render(request, "service/case_detail.html", {
        "case": case, "thread": list(thread), "history": list(selectors.case_history(user, case.pk)),
        "sla": _sla_left([case]).get(case.pk), "suggestions": suggestions, "visits": visits,
        "complaints": list(case.complaints.all()) if can(user, "complaint", "view") else [],
        "survey": survey,
        "survey_link": request.build_absolute_uri(survey_path(survey)) if survey and not survey.answered_at else "",
        "may_change": may_change, "may_reply": may_reply,
        "reply_form": reply_form or forms.ReplyForm(case=case),
        "status_form": status_form or forms.StatusForm(case=case),
        "assign_form": assign_form or forms.AssignForm(people=people, queues=_queues()),
        "link_form": link_form or forms.LinkCustomerForm(actor=user),
        "may_book_visit": can(user, "field_visit", "create") and case.is_open,
        "may_complain": can(user, "complaint", "create"),
        "may_escalate": CaseStatus.ESCALATED in ALLOWED_TRANSITIONS.get(case.status, ()),
    }, status=status)


@staff_page
def case_detail(request, case_id: int):
    return _case_page(request, selectors.access_case_by_id(request.user, case_id))


@staff_page
@require_POST
def case_reply(request, case_id: int):
    case = selectors.access_case_for_messages(request.user, case_id)
    form = forms.ReplyForm(request.POST, request.FILES, case=case)
    if form.is_valid():
        try:
            message = services.case_reply(actor=request.user, case_id=case.pk, body=form.cleaned_data["body"],
                                          kind=form.cleaned_data["kind"], attachments=_files(request),
                                          new_status=form.cleaned_data["new_status"])
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Reply sent.") if message.kind == "reply" else _("Note added."))
            return redirect(reverse("service:case_detail", args=[case.pk]) + "#thread")
    return _case_page(request, selectors.access_case_by_id(request.user, case.pk), reply_form=form, status=400)


@staff_page
@require_POST
def case_status(request, case_id: int):
    case = selectors.access_case_by_id(request.user, case_id, "change")
    form = forms.StatusForm(request.POST, case=case)
    if form.is_valid():
        try:
            services.case_change_status(actor=request.user, case_id=case.pk, status=form.cleaned_data["status"],
                                        note=form.cleaned_data["note"],
                                        expected_version=form.cleaned_data.get("version"))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            case.refresh_from_db()
            messages.success(request, _("Case %(number)s is now %(status)s.") % {
                "number": case.number, "status": case.get_status_display()})
            return redirect("service:case_detail", case_id=case.pk)
    return _case_page(request, selectors.access_case_by_id(request.user, case.pk), status_form=form, status=400)


@staff_page
@require_POST
def case_assign(request, case_id: int):
    case = selectors.access_case_by_id(request.user, case_id, "change")
    people = [agent.user for agent in selectors.agent_list(request.user)] if can(
        request.user, "service_queue", "view") else []
    if request.user not in people:
        people.append(request.user)
    form = forms.AssignForm(request.POST, people=people, queues=_queues())
    if form.is_valid():
        assignee_id, queue_id = form.target_ids()
        try:
            case = services.case_assign(actor=request.user, case_id=case.pk, assignee_id=assignee_id,
                                        queue_id=queue_id, note=form.cleaned_data["note"])
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Case %(number)s given to %(who)s.") % {
                "number": case.number, "who": case.assignee or case.queue})
            return redirect("service:case_detail", case_id=case.pk)
    return _case_page(request, selectors.access_case_by_id(request.user, case.pk), assign_form=form, status=400)


@staff_page
@require_POST
def case_link_customer(request, case_id: int):
    case = selectors.access_case_by_id(request.user, case_id, "change")
    form = forms.LinkCustomerForm(request.POST, actor=request.user)
    if form.is_valid():
        try:
            services.case_link_customer(actor=request.user, case_id=case.pk, contact_id=form.cleaned_data["contact"])
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("The case is linked to its customer."))
            return redirect("service:case_detail", case_id=case.pk)
    return _case_page(request, selectors.access_case_by_id(request.user, case.pk), link_form=form, status=400)


@staff_page
@require_POST
def article_helpful(request, case_id: int, article_id: int):
    services.article_mark_helpful(actor=request.user, article_id=article_id, case_id=case_id)
    messages.success(request, _("Noted: the article helped with this case."))
    return redirect("service:case_detail", case_id=case_id)


@staff_page
@require_POST
def notifications_read(request):
    services.notification_mark_read(actor=request.user)
    return redirect(request.POST.get("next") or "core:home")


@staff_page
def attachment_download(request, attachment_id: int):
    attachment = selectors.access_attachment_by_id(request.user, attachment_id)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name,
                        content_type=attachment.content_type or "application/octet-stream")


# ======================================================================================
# Knowledge base
# ======================================================================================
@staff_page
def article_list(request):
    form = forms.ArticleSearchForm(request.GET)
    window = None
    if form.is_valid():
        cleaned = form.cleaned_data
        versions = selectors.article_search(request.user, cleaned["q"], language=cleaned["language"],
                                            status=cleaned["status"], category=cleaned["category"])
        window = page_window(versions, request.GET.get("page"))
    return render(request, "service/article_list.html", {
        "form": form, "window": window, "may_create": can(request.user, "knowledge_article", "create"),
        "active_filters": any(request.GET.get(name) for name in ("language", "status", "category")),
    }, status=200 if window is not None else 400)


@staff_page
def article_detail(request, article_id: int):
    article = selectors.access_article_by_id(request.user, article_id)
    versions = list(selectors.article_versions(request.user, article.pk))
    may_change = selectors.visible_articles(request.user, "change").filter(pk=article.pk).exists() if can(
        request.user, "knowledge_article", "change") else False
    return render(request, "service/article_detail.html", {
        "article": article, "current": sorted(selectors.article_current_versions(article).values(),
                                              key=lambda version: version.language != translation.get_language()),
        "versions": versions, "may_change": may_change})


@staff_page
@require_http_methods(["GET", "POST"])
def article_edit(request, article_id: int | None = None):
    article = selectors.access_article_by_id(request.user, article_id, "change") if article_id else None
    if article is None and not can(request.user, "knowledge_article", "create"):
        raise PermissionDenied(_("You may not write knowledge articles."))
    language = request.GET.get("language") or translation.get_language()
    initial = {"language": language, "category": article.category if article else "other",
               "status": article.status if article else "draft"}
    if article is not None:
        current = selectors.article_current_versions(article).get(language)
        if current is not None:
            initial.update({field: getattr(current, field) for field in ("title", "problem", "solution",
                                                                         "keywords")})
    form = forms.ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if article is None:
                article = services.article_create(actor=request.user, data=form.to_service_data())
            else:
                services.article_update(actor=request.user, article_id=article.pk, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Article saved."))
            return redirect("service:article_detail", article_id=article.pk)
    return render(request, "service/article_form.html", {"form": form, "article": article},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_POST
def article_restore(request, article_id: int, version_id: int):
    try:
        services.article_restore_version(actor=request.user, article_id=article_id, version_id=version_id)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The earlier text is current again."))
    return redirect("service:article_detail", article_id=article_id)


# ======================================================================================
# Complaints
# ======================================================================================
@staff_page
def complaint_list(request):
    open_only = request.GET.get("open", "1") == "1"
    window = page_window(selectors.complaint_list(request.user, open_only=open_only), request.GET.get("page"))
    return render(request, "service/complaint_list.html", {"window": window, "open_only": open_only})


@staff_page
@require_http_methods(["GET", "POST"])
def complaint_create(request, case_id: int):
    case = selectors.access_case_by_id(request.user, case_id)
    if not can(request.user, "complaint", "create"):
        raise PermissionDenied(_("You may not record complaints."))
    form = forms.ComplaintForm(request.POST or None, initial={"subject": case.subject})
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_create(actor=request.user, data={**form.cleaned_data, "case_id": case.pk})
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Complaint %(number)s recorded.") % {"number": complaint.number})
            return redirect("service:complaint_detail", complaint_id=complaint.pk)
    return render(request, "service/simple_form.html", {
        "form": form, "title": _("Record a complaint about case %(number)s") % {"number": case.number},
        "cancel_url": reverse("service:case_detail", args=[case.pk])}, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def complaint_detail(request, complaint_id: int):
    complaint = selectors.access_complaint_by_id(request.user, complaint_id)
    may_change = can(request.user, "complaint", "change") and selectors.visible_complaints(
        request.user, "change").filter(pk=complaint.pk).exists()
    form = forms.ComplaintStepForm(request.POST or None, complaint=complaint)
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied(_("You may not work on this complaint."))
        if form.is_valid():
            data = {key: value for key, value in form.cleaned_data.items() if key != "version" and value != ""}
            try:
                services.complaint_update(actor=request.user, complaint_id=complaint.pk, data=data,
                                          expected_version=form.cleaned_data.get("version"))
            except ValidationError as error:
                form.apply_service_errors(error)
            except Conflict as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Complaint updated."))
                return redirect("service:complaint_detail", complaint_id=complaint.pk)
    return render(request, "service/complaint_detail.html", {
        "complaint": complaint, "steps": list(complaint.steps.select_related("actor")), "form": form,
        "may_change": may_change}, status=400 if request.method == "POST" else 200)


# ======================================================================================
# Service contracts
# ======================================================================================
@staff_page
def contract_list(request):
    active = request.GET.get("active", "1") == "1"
    contracts = selectors.contract_list(request.user, active_on=timezone.localdate() if active else None)
    return render(request, "service/contract_list.html", {
        "window": page_window(contracts, request.GET.get("page")), "active": active})


@staff_page
def contract_detail(request, contract_id: int):
    contract = selectors.access_contract_by_id(request.user, contract_id)
    return render(request, "service/contract_detail.html", {
        "contract": contract, "entitlements": list(contract.entitlements.all()),
        "usages": list(selectors.contract_usage(contract)[:50]),
        "cases": list(selectors.visible_cases(request.user).filter(service_contract=contract)
                      .order_by("-created_at")[:20])})


# ======================================================================================
# Field service
# ======================================================================================
def _week_start(raw: str | None) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        day = timezone.localdate()
    return day - dt.timedelta(days=day.weekday())


@staff_page
def visit_calendar(request):
    week = _week_start(request.GET.get("week"))
    period = reports.Period.between(week, week + dt.timedelta(days=6))
    technicians = list(selectors.technicians(request.user))
    visits = list(selectors.visit_calendar(request.user, period.start, period.end))
    days = [week + dt.timedelta(days=offset) for offset in range(7)]
    grid = []
    for agent in technicians:
        free = selectors.technician_free_slots(request.user, agent.user_id, period.start, period.end)
        cells = []
        for day in days:
            cells.append({
                "visits": [visit for visit in visits if visit.technician_id == agent.user_id
                           and timezone.localtime(visit.starts_at).date() == day],
                "free": [(start, end) for start, end in free if timezone.localtime(start).date() == day]})
        grid.append({"technician": agent, "cells": cells})
    return render(request, "service/visit_calendar.html", {
        "days": days, "grid": grid, "week": week, "previous_week": week - dt.timedelta(days=7),
        "next_week": week + dt.timedelta(days=7)})


@staff_page
@require_http_methods(["GET", "POST"])
def visit_create(request, case_id: int):
    case = selectors.access_case_by_id(request.user, case_id)
    technicians = list(selectors.technicians(request.user))
    form = forms.VisitForm(request.POST or None, technicians=technicians)
    if request.method == "POST" and form.is_valid():
        cleaned = form.cleaned_data
        try:
            services.visit_schedule(actor=request.user, case_id=case.pk, technician_id=cleaned["technician"],
                                    starts_at=cleaned["starts_at"], ends_at=cleaned["ends_at"],
                                    address=cleaned["address"], notes=cleaned["notes"])
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Field visit booked."))
            return redirect("service:case_detail", case_id=case.pk)
    return render(request, "service/simple_form.html", {
        "form": form, "title": _("Book a field visit for case %(number)s") % {"number": case.number},
        "cancel_url": reverse("service:case_detail", args=[case.pk]),
        "aside_url": reverse("service:visit_calendar")}, status=400 if request.method == "POST" else 200)


@staff_page
@require_POST
def visit_status(request, visit_id: int):
    visit = selectors.access_visit_by_id(request.user, visit_id, "change")
    form = forms.VisitStatusForm(request.POST)
    if form.is_valid():
        try:
            services.visit_update(actor=request.user, visit_id=visit.pk, data=form.cleaned_data)
        except ValidationError as error:
            messages.error(request, " ".join(sum(error.message_dict.values(), [])))
        else:
            messages.success(request, _("Visit updated."))
    return redirect("service:case_detail", case_id=visit.case_id)


# ======================================================================================
# Reports
# ======================================================================================
def _period_from(request, default_days: int = 30) -> reports.Period:
    try:
        start = dt.date.fromisoformat(request.GET["start"])
        end = dt.date.fromisoformat(request.GET["end"])
        if end < start:
            raise ValueError
        return reports.Period.between(start, end)
    except (KeyError, ValueError):
        return reports.Period.last_days(default_days)


@staff_page
def dashboard(request):
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 366))
    except ValueError:
        days = 30
    figures = reports.service_dashboard(request.user, days=days)
    labels = {"opened": _("Opened"), "resolved": _("Resolved"), "open_cases": _("Open cases"),
              "statuses": {status: str(CaseStatus(status).label) for status in CaseStatus.values}}
    return render(request, "service/dashboard.html", {"figures": figures, "days": days, "labels": labels})


def _grouping_labels() -> dict[str, str]:
    return {"policy": _("SLA policy"), "priority": _("Priority"), "queue": _("Queue"), "agent": _("Agent"),
            "category": _("Category"), "channel": _("Channel"), "customer": _("Customer"), "product": _("Product"),
            "period": _("Period")}


# Groups whose stored values are choices: shown by their translated labels.
SLA_GROUP_CHOICES = {"priority": CasePriority, "category": CaseCategory, "channel": CaseOrigin}


@staff_page
def sla_report(request):
    """SLA attainment per policy, priority, queue, agent, category or channel; ``?format=csv``
    downloads the same rows."""
    period = _period_from(request)
    group_by = request.GET.get("group_by", "policy")
    try:
        report = reports.sla_report(request.user, period, group_by)
    except ValidationError:
        return HttpResponseBadRequest(_("Unknown grouping."))
    choices = SLA_GROUP_CHOICES.get(group_by)
    for row in report["rows"]:
        row["label"] = str(choices(row["group"]).label) if choices and row["group"] in choices.values \
            else row["group"]
    labels = _grouping_labels()
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="sla-{group_by}-{period.start:%Y%m%d}.csv"'
        response.write("\ufeff")   # so that spreadsheet programs read the UTF-8 (Chinese names) correctly
        writer = csv.writer(response)
        writer.writerow([labels[group_by], _("Resolved"), _("Resolution in time"), _("Resolution in time (%)"),
                         _("First response in time"), _("First response in time (%)"),
                         _("Average working hours to resolve"), _("Open and breached now")])
        for row in report["rows"]:
            writer.writerow([row["label"], row["resolved"], row["resolution_met"], row["resolution_percent"],
                             row["first_response_met"], row["first_response_percent"],
                             row["average_working_hours"], row["breached_open"]])
        return response
    return render(request, "service/sla_report.html", {
        "report": report, "period": period, "group_by": group_by, "group_label": labels[group_by],
        "groupings": [(key, labels[key]) for key in reports.SLA_GROUPS],
        "end_day": (period.end - dt.timedelta(days=1)).date()})


@staff_page
def satisfaction(request):
    period = _period_from(request, 90)
    group_by = request.GET.get("group_by", "agent")
    granularity = request.GET.get("granularity", "month")
    try:
        report = reports.satisfaction_report(request.user, period, group_by, granularity)
    except ValidationError:
        return HttpResponseBadRequest(_("Unknown grouping."))
    return render(request, "service/satisfaction.html", {
        "report": report, "period": period, "group_by": group_by, "granularity": granularity,
        "group_label": _grouping_labels()[group_by],
        "groupings": [(key, _grouping_labels()[key]) for key in list(reports.SATISFACTION_GROUPS) + ["period"]],
        "end_day": (period.end - dt.timedelta(days=1)).date()})


# ======================================================================================
# The public web form (no sign-in)
# ======================================================================================
WEB_FORM_RATE = "5/m"


@require_http_methods(["GET", "POST"])
def case_web_form(request):
    """Customers send a case from the website; they get its number to quote."""
    form = forms.CaseWebForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        try:
            check_rate(client_ip(request) or "unknown", "service_web_form", WEB_FORM_RATE)
        except RateLimited as limited:
            response = render(request, "service/web_form.html", {"form": form, "limited": True}, status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        if form.is_valid():
            if form.cleaned_data["website"]:
                return render(request, "service/web_form_sent.html", {"case": None})
            try:
                case = services.case_submit_from_web(data=form.cleaned_data, attachments=_files(request),
                                                     ip_address=client_ip(request))
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                return render(request, "service/web_form_sent.html", {"case": case})
    return render(request, "service/web_form.html", {"form": form}, status=400 if request.method == "POST" else 200)


# ======================================================================================
# The customer's survey page (no sign-in)
# ======================================================================================
@require_http_methods(["GET", "POST"])
def survey_answer(request, signed_token: str):
    """The public survey page a customer reaches from the email link (no sign-in: the
    signed link is the credential), shown in the survey's language."""
    try:
        survey = selectors.survey_by_token(survey_token_from_link(signed_token))
    except NotFound:
        raise Http404("survey") from None
    errors: dict[str, list[str]] = {}
    problem = ""
    with translation.override(request.GET.get("lang") or survey.language):
        if request.method == "POST":
            try:
                services.survey_answer(token=survey.token, csat_score=request.POST.get("csat_score"),
                                       nps_score=request.POST.get("nps_score"),
                                       comment=request.POST.get("comment", ""))
            except ValidationError as error:
                errors = error.message_dict
            except Conflict as error:
                problem = str(error)
            survey.refresh_from_db()
        status = 400 if errors else 409 if problem else 200
        return render(request, "service/survey_answer.html", {
            "survey": survey, "case": survey.case, "errors": errors, "problem": problem, "posted": request.POST,
            "csat_range": range(1, 6), "nps_range": range(0, 11), "language": translation.get_language(),
        }, status=status)



# ======================================================================================
# Configuration: business calendars, SLA policies, queues and agents
# ======================================================================================
def _may(user, object_name: str, action: str) -> bool:
    return can(user, object_name, action)


@staff_page
def settings_overview(request):
    """Everything an administrator sets up for the service desk, on one page."""
    may_sla, may_queues = _may(request.user, "sla_policy", "view"), _may(request.user, "service_queue", "view")
    if not (may_sla or may_queues):
        raise PermissionDenied(_("You may not see the service desk's configuration."))
    context = {"may_sla": may_sla, "may_queues": may_queues,
               "may_change_sla": _may(request.user, "sla_policy", "change"),
               "may_create_sla": _may(request.user, "sla_policy", "create"),
               "may_change_queues": _may(request.user, "service_queue", "change"),
               "may_create_queues": _may(request.user, "service_queue", "create")}
    if may_sla:
        context["calendars"] = list(selectors.calendar_list(request.user))
        context["policies"] = list(selectors.sla_policy_list(request.user))
    if may_queues:
        waiting = selectors.queue_waiting_counts()
        context["queues"] = [(queue, waiting.get(queue.pk, 0)) for queue in selectors.queue_list(request.user)]
        context["agents"] = list(selectors.agent_list(request.user).prefetch_related("memberships__queue"))
        context["categories"] = dict(CaseCategory.choices)
    return render(request, "service/settings.html", context)


def _settings_form_page(request, form, *, title: str, delete_url: str = "", formset=None, status=None):
    return render(request, "service/settings_form.html", {
        "form": form, "formset": formset, "title": title, "delete_url": delete_url,
        "cancel_url": reverse("service:settings")},
        status=status if status is not None else (400 if request.method == "POST" else 200))


def _saved(request, message: str):
    messages.success(request, message)
    return redirect("service:settings")


def _record_to_edit(request, record_id: int | None, access: Callable, object_name: str):
    """The record a settings page changes (access-checked), or None for a new one when the
    user may create ``object_name``."""
    record = access(request.user, record_id, "change") if record_id else None
    if record is None and not _may(request.user, object_name, "create"):
        raise PermissionDenied(_("You may not change the service desk's configuration."))
    return record


def _settings_edit(request, form, *, record, save_new: Callable[[dict], object],
                   save_changes: Callable[[object, dict], object], saved_message: str, title: str,
                   delete_url: str = "", formset=None, service_data: Callable[[], dict] | None = None,
                   show_errors: Callable[[ValidationError], None] | None = None):
    """The create-or-update flow every settings page shares: on a valid POST the service
    saves ``save_new(data)`` or ``save_changes(record, data)`` and the user goes back to the
    overview; a refusal is shown on the form (``show_errors``, by default on its fields)."""
    if request.method == "POST" and all([form.is_valid(), formset is None or formset.is_valid()]):
        data = service_data() if service_data is not None else form.to_service_data()
        try:
            if record is None:
                save_new(data)
            else:
                save_changes(record, data)
        except ValidationError as error:
            (show_errors or form.apply_service_errors)(error)
        else:
            return _saved(request, saved_message)
    return _settings_form_page(request, form, formset=formset, title=title, delete_url=delete_url)


@staff_page
@require_http_methods(["GET", "POST"])
def calendar_edit(request, calendar_id: int | None = None):
    calendar = _record_to_edit(request, calendar_id, selectors.access_calendar_by_id, "sla_policy")
    return _settings_edit(
        request, forms.CalendarForm(request.POST or None, calendar=calendar), record=calendar,
        save_new=lambda data: services.calendar_create(actor=request.user, data=data),
        save_changes=lambda record, data: services.calendar_update(actor=request.user, calendar_id=record.pk,
                                                                   data=data),
        saved_message=_("Business calendar saved."),
        title=_("Business calendar %(name)s") % {"name": calendar.name} if calendar else _("New business calendar"),
        delete_url=reverse("service:calendar_delete", args=[calendar.pk]) if calendar else "")


def _policy_errors(error: ValidationError, form, rule_forms: list) -> None:
    """The service numbers escalation rules as sent (``escalation_rules.1.trigger``): show
    each refusal on the row it concerns, the rest on the policy's fields."""
    by_key = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    others = {}
    for key, messages_ in by_key.items():
        parts = key.split(".")
        if parts[0] == "escalation_rules" and len(parts) > 1 and parts[1].isdigit() \
                and int(parts[1]) < len(rule_forms):
            for message in messages_:
                rule_forms[int(parts[1])].add_error(None, message)
        else:
            others[key] = messages_
    if others:
        form.apply_service_errors(ValidationError(others))


@staff_page
@require_http_methods(["GET", "POST"])
def sla_policy_edit(request, policy_id: int | None = None):
    policy = _record_to_edit(request, policy_id, selectors.access_sla_policy_by_id, "sla_policy")
    form = forms.SlaPolicyForm(request.POST or None, policy=policy)
    rules = forms.EscalationRuleFormSet(request.POST or None, prefix="rules",
                                        initial=forms.escalation_rule_initial(policy))
    return _settings_edit(
        request, form, formset=rules, record=policy,
        service_data=lambda: {**form.to_service_data(), "escalation_rules": [
            item for item in (rule.to_service_data() for rule in rules) if item]},
        show_errors=lambda error: _policy_errors(error, form,
                                                 [rule for rule in rules if rule.cleaned_data.get("trigger")]),
        save_new=lambda data: services.sla_policy_create(actor=request.user, data=data),
        save_changes=lambda record, data: services.sla_policy_update(actor=request.user, policy_id=record.pk,
                                                                     data=data),
        saved_message=_("SLA policy saved."),
        title=_("SLA policy %(name)s") % {"name": policy.name} if policy else _("New SLA policy"),
        delete_url=reverse("service:sla_policy_delete", args=[policy.pk]) if policy else "")


@staff_page
@require_http_methods(["GET", "POST"])
def queue_edit(request, queue_id: int | None = None):
    queue = _record_to_edit(request, queue_id, selectors.access_queue_by_id, "service_queue")
    return _settings_edit(
        request, forms.QueueForm(request.POST or None, queue=queue), record=queue,
        save_new=lambda data: services.queue_create(actor=request.user, data=data),
        save_changes=lambda record, data: services.queue_update(actor=request.user, queue_id=record.pk, data=data),
        saved_message=_("Queue saved."),
        title=_("Queue %(name)s") % {"name": queue.name} if queue else _("New queue"),
        delete_url=reverse("service:queue_delete", args=[queue.pk]) if queue else "")


@staff_page
@require_http_methods(["GET", "POST"])
def agent_edit(request, user_id: int | None = None):
    agent = selectors.access_agent_by_user_id(request.user, user_id, "change") if user_id else None
    if not _may(request.user, "service_queue", "change"):
        raise PermissionDenied(_("You may not change the service desk's configuration."))
    form = forms.AgentForm(request.POST or None, agent=agent)
    # one service call saves a new profile and changes an existing one
    return _settings_edit(
        request, form, record=agent,
        save_new=lambda data: services.agent_save(actor=request.user, user_id=form.cleaned_data["user"].pk,
                                                  data=data),
        save_changes=lambda record, data: services.agent_save(actor=request.user, user_id=record.user_id, data=data),
        saved_message=_("Agent profile saved."),
        title=_("Agent %(name)s") % {"name": agent.user} if agent else _("New agent profile"))


def _settings_delete(request, delete, message: str):
    try:
        delete()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("service:settings")
    return _saved(request, message)


@staff_page
@require_POST
def calendar_delete(request, calendar_id: int):
    return _settings_delete(request, lambda: services.calendar_delete(actor=request.user, calendar_id=calendar_id),
                            _("Business calendar deleted."))


@staff_page
@require_POST
def sla_policy_delete(request, policy_id: int):
    return _settings_delete(request, lambda: services.sla_policy_delete(actor=request.user, policy_id=policy_id),
                            _("SLA policy deleted."))


@staff_page
@require_POST
def queue_delete(request, queue_id: int):
    return _settings_delete(request, lambda: services.queue_delete(actor=request.user, queue_id=queue_id),
                            _("Queue deleted."))
