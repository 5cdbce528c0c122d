"""Lead pages: list, detail with duplicates, form, qualification and conversion."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window
from guanxi.sales import selectors, services
from guanxi.sales.forms import ConvertForm, DisqualifyForm, LeadFilterForm, LeadForm
from guanxi.sales.views.common import may, messages_of
from guanxi.sales.views.public import form_token


@staff_page
def lead_list(request):
    form = LeadFilterForm(request.GET)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    status = data.get("status") or ""
    filters = selectors.LeadFilters(query=data.get("q", ""), status="" if status in ("", "all") else status,
                                    open_only=status == "", source=data.get("source") or "",
                                    owner_id=request.user.pk if data.get("mine") else None)
    sort = request.GET.get("sort", "-created")
    window = page_window(selectors.lead_list(request.user, filters, sort if sort in selectors.LEAD_SORTS
                                             else "-created"), request.GET.get("page"))
    return render(request, "sales/lead_list.html", {
        "form": form, "window": window, "may_create": can(request.user, "lead", "create"),
        "active_filters": bool(status or data.get("source") or data.get("mine")), "sort": sort,
        "web_form_url": request.build_absolute_uri(reverse("sales:web_to_lead")),
    })


@staff_page
def lead_detail(request, lead_id: int):
    user = request.user
    lead = selectors.access_lead_by_id(user, lead_id)
    may_change = may(selectors.visible_leads, user, "change", lead.pk)
    try:
        activities = list(selectors.activity_list(user, selectors.ActivityFilters(lead_id=lead.pk))[:20])
    except PermissionDenied:
        activities = []
    return render(request, "sales/lead_detail.html", {
        "lead": lead, "may_change": may_change, "duplicates": selectors.lead_duplicates(user, lead) if lead.is_open
        else [], "behaviours": lead.behaviours.all()[:20], "activities": activities,
        "disqualify_form": DisqualifyForm(auto_id="disqualify_%s"),
        "may_delete": may(selectors.visible_leads, user, "delete", lead.pk),
    })


@staff_page
@require_http_methods(["GET", "POST"])
def lead_create(request):
    if not can(request.user, "lead", "create"):
        raise PermissionDenied(_("You may not create leads."))
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(actor=request.user, data=form.to_service_data(),
                                        auto_assign=form.cleaned_data.get("auto_assign", False),
                                        ip_address=client_ip(request))
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Lead “%(name)s” created.") % {"name": lead.full_name})
            return redirect("sales:lead_detail", lead_id=lead.pk)
    return render(request, "core/record_form.html", {"form": form, "title": _("New lead"),
                                                     "cancel_url": reverse("sales:lead_list")},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def lead_edit(request, lead_id: int):
    lead = selectors.access_lead_by_id(request.user, lead_id, "change")
    initial = {name: getattr(lead, name) for name in LeadForm.FIELDS}
    initial["owner"] = lead.owner_id
    form = LeadForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(actor=request.user, lead_id=lead.pk, data=form.to_service_data(),
                                 expected_version=int(request.POST.get("version") or lead.version),
                                 ip_address=client_ip(request))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            messages.error(request, str(error))
            return redirect("sales:lead_detail", lead_id=lead.pk)
        else:
            messages.success(request, _("Lead saved."))
            return redirect("sales:lead_detail", lead_id=lead.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("Edit lead %(name)s") % {"name": lead.full_name},
        "cancel_url": reverse("sales:lead_detail", args=[lead.pk])}, status=400 if request.method == "POST" else 200)


@staff_page
@require_POST
def lead_action(request, lead_id: int, action: str):
    """Qualify, disqualify, assign by the rules, or delete, from the lead's page."""
    user = request.user
    try:
        if action == "qualify":
            services.lead_qualify(actor=user, lead_id=lead_id, note=request.POST.get("note", ""))
            messages.success(request, _("Lead qualified."))
        elif action == "disqualify":
            form = DisqualifyForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Choose why the lead is disqualified."))
            else:
                services.lead_disqualify(actor=user, lead_id=lead_id, reason=form.cleaned_data["reason"],
                                         note=form.cleaned_data["note"])
                messages.success(request, _("Lead disqualified."))
        elif action == "reopen":
            services.lead_update(actor=user, lead_id=lead_id, data={"status": "working"})
            messages.success(request, _("Lead reopened."))
        elif action == "assign":
            lead = services.lead_assign(actor=user, lead_id=lead_id)
            messages.success(request, _("Lead assigned to %(user)s.") % {"user": lead.owner})
        elif action == "delete":
            services.lead_delete(actor=user, lead_id=lead_id, ip_address=client_ip(request))
            messages.success(request, _("Lead deleted."))
            return redirect("sales:lead_list")
    except (Conflict, ValidationError) as error:
        messages.error(request, str(error) if isinstance(error, Conflict) else messages_of(error))
    return redirect("sales:lead_detail", lead_id=lead_id)


@staff_page
@require_http_methods(["GET", "POST"])
def lead_convert(request, lead_id: int):
    """One step: account, contact, opportunity. Matches with existing records are offered
    first, so the customer stays one record."""
    user = request.user
    lead = selectors.access_lead_by_id(user, lead_id, "change")
    matches = selectors.lead_duplicates(user, lead) if lead.is_open else []
    form = ConvertForm(request.POST or None, matches=matches, initial={
        "opportunity_name": lead.company or lead.full_name, "amount": lead.estimated_amount,
        "create_opportunity": True, "account": ConvertForm.NEW, "contact": ConvertForm.NEW})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                conversion = services.lead_convert(actor=user, lead_id=lead.pk, ip_address=client_ip(request),
                                                   **form.service_kwargs())
            except ValidationError as error:
                form.add_error(None, messages_of(error))
            except Conflict as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(request, _("Lead converted: %(contact)s is now a customer.")
                                 % {"contact": conversion.contact})
                if conversion.opportunity is not None:
                    return redirect("sales:opportunity_detail", opportunity_id=conversion.opportunity.pk)
                return redirect("core:contact_360", contact_id=conversion.contact.pk)
    return render(request, "sales/lead_convert.html", {"lead": lead, "form": form, "matches": matches},
                  status=status)


@staff_page
def web_form_snippet(request):
    """The HTML to paste into a web site to embed the enquiry form."""
    url = request.build_absolute_uri(reverse("sales:web_to_lead"))
    return render(request, "sales/web_form_snippet.html", {"url": url, "token_example": form_token()[:8]})
