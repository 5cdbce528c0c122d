"""Opportunity pages: list, kanban board with drag and drop, detail with stage history,
forms, and the stage-change endpoint the board posts to."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.forms import record_reference, resolve_account_reference
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window
from guanxi.sales import selectors, services
from guanxi.sales.forms import MoveForm, OpportunityForm
from guanxi.sales.models import CloseReason
from guanxi.sales.views.common import may, messages_of


def _pipeline(request):
    pipelines = list(selectors.pipelines(request.user).filter(is_active=True))
    chosen = request.GET.get("pipeline")
    pipeline = next((item for item in pipelines if str(item.pk) == chosen), None) or (
        pipelines[0] if pipelines else None)
    return pipeline, pipelines


@staff_page
def pipeline_board(request):
    """The kanban board. Cards are dragged between stage columns (HTML5 drag and drop);
    each card also has a move control that works with the keyboard and without script."""
    pipeline, pipelines = _pipeline(request)
    mine = request.GET.get("mine") == "1"
    columns = selectors.pipeline_board(request.user, pipeline, owner_id=request.user.pk if mine else None) \
        if pipeline else []
    return render(request, "sales/pipeline_board.html", {
        "pipeline": pipeline, "pipelines": pipelines, "columns": columns, "mine": mine,
        "stages": [column.stage for column in columns], "close_reasons": CloseReason.choices,
        "may_create": can(request.user, "opportunity", "create"),
    })


@staff_page
def opportunity_list(request):
    query = request.GET.get("q", "").strip()
    closed = {"open": False, "closed": True}.get(request.GET.get("state", "open"))
    sort = request.GET.get("sort", "close")
    filters = selectors.OpportunityFilters(query=query, is_closed=closed,
                                           owner_id=request.user.pk if request.GET.get("mine") == "1" else None)
    window = page_window(selectors.opportunity_list(request.user, filters, sort if sort in selectors.OPPORTUNITY_SORTS
                                                    else "close"), request.GET.get("page"))
    return render(request, "sales/opportunity_list.html", {
        "window": window, "query": query, "state": request.GET.get("state", "open"), "sort": sort,
        "may_create": can(request.user, "opportunity", "create")})


@staff_page
def opportunity_detail(request, opportunity_id: int):
    user = request.user
    opportunity = selectors.access_opportunity_by_id(user, opportunity_id)
    may_change = may(selectors.visible_opportunities, user, "change", opportunity.pk)
    try:
        quotes = list(selectors.quote_list(user, opportunity_id=opportunity.pk))
    except PermissionDenied:
        quotes = None
    try:
        activities = list(selectors.activity_list(user, selectors.ActivityFilters(opportunity_id=opportunity.pk))[:20])
    except PermissionDenied:
        activities = None
    return render(request, "sales/opportunity_detail.html", {
        "opportunity": opportunity, "may_change": may_change,
        "history": selectors.stage_history(user, opportunity.pk),
        "time_in_stages": selectors.time_in_stages(user, opportunity.pk),
        "move_form": MoveForm(pipeline=opportunity.pipeline, initial={"stage": opportunity.stage_id,
                                                                      "version": opportunity.version}),
        "quotes": quotes, "activities": activities, "competitors": list(opportunity.competitors.all()),
        "team": list(opportunity.team_members.select_related("user")),
        "products": list(opportunity.product_lines.select_related("product")),
        "may_quote": can(user, "quote", "create") and may_change and not opportunity.is_closed,
        "may_delete": may(selectors.visible_opportunities, user, "delete", opportunity.pk),
    })


def _contacts_for(request, account_id):
    if not account_id:
        return []
    try:
        return list(core_selectors.visible_contacts(request.user).filter(account_id=account_id)
                    .order_by("full_name")[:100])
    except PermissionDenied:
        return []


@staff_page
@require_http_methods(["GET", "POST"])
def opportunity_create(request):
    user = request.user
    if not can(user, "opportunity", "create"):
        raise PermissionDenied(_("You may not create opportunities."))
    pipeline = services.default_pipeline()
    initial = {}
    account_id = None
    if request.GET.get("account"):
        try:
            account = core_selectors.access_account_by_id(user, request.GET["account"])
            initial["account"], account_id = record_reference(account), account.pk
        except NotFound:
            pass
    if request.GET.get("contact"):
        try:
            contact = core_selectors.access_contact_by_id(user, request.GET["contact"])
            initial["contact"] = contact.pk
            if contact.account_id:
                initial["account"], account_id = record_reference(contact.account), contact.account_id
        except NotFound:
            pass
    if request.method == "POST":
        try:
            account_id = resolve_account_reference(user, request.POST.get("account", ""))
        except ValidationError:
            account_id = None
    form = OpportunityForm(request.POST or None, actor=user, pipeline=pipeline, initial=initial,
                           contacts=_contacts_for(request, account_id))
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.opportunity_create(actor=user, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Opportunity “%(name)s” opened.") % {"name": opportunity.name})
            return redirect("sales:opportunity_detail", opportunity_id=opportunity.pk)
    return render(request, "core/record_form.html", {"form": form, "title": _("New opportunity"),
                                                     "cancel_url": reverse("sales:pipeline_board")},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def opportunity_edit(request, opportunity_id: int):
    user = request.user
    opportunity = selectors.access_opportunity_by_id(user, opportunity_id, "change")
    initial = {"name": opportunity.name, "account": record_reference(opportunity.account),
               "contact": opportunity.contact_id, "stage": opportunity.stage_id, "amount": opportunity.amount,
               "currency": opportunity.currency, "probability": opportunity.probability,
               "close_date": opportunity.close_date, "next_step": opportunity.next_step,
               "close_reason": opportunity.close_reason, "description": opportunity.description,
               "owner": opportunity.owner_id}
    form = OpportunityForm(request.POST or None, actor=user, pipeline=opportunity.pipeline, initial=initial,
                           contacts=_contacts_for(request, opportunity.account_id))
    if request.method == "POST" and form.is_valid():
        data = form.to_service_data()
        if data.get("probability") == opportunity.probability and data.get("stage_id") != opportunity.stage_id:
            data.pop("probability")  # a new stage brings its own default
        try:
            services.opportunity_update(actor=user, opportunity_id=opportunity.pk, data=data,
                                        expected_version=int(request.POST.get("version") or opportunity.version),
                                        ip_address=client_ip(request))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            messages.error(request, str(error))
            return redirect("sales:opportunity_detail", opportunity_id=opportunity.pk)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("sales:opportunity_detail", opportunity_id=opportunity.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("Edit %(name)s") % {"name": opportunity.name},
        "cancel_url": reverse("sales:opportunity_detail", args=[opportunity.pk])},
        status=400 if request.method == "POST" else 200)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@staff_page
@require_POST
def opportunity_move(request, opportunity_id: int):
    """The stage change of the board (drag and drop posts here with ``Accept:
    application/json``) and of the move control (a plain form post)."""
    opportunity = selectors.access_opportunity_by_id(request.user, opportunity_id, "change")
    form = MoveForm(request.POST, pipeline=opportunity.pipeline)
    status, payload = 200, {}
    if not form.is_valid():
        status, payload = 422, {"errors": {key: [str(message) for message in value]
                                           for key, value in form.errors.items()}}
    else:
        try:
            moved = services.opportunity_move(
                actor=request.user, opportunity_id=opportunity.pk, stage_id=form.cleaned_data["stage"],
                close_reason=form.cleaned_data.get("close_reason") or "",
                close_note=form.cleaned_data.get("close_note") or "",
                expected_version=form.cleaned_data.get("version"))
        except ValidationError as error:
            status, payload = 422, {"errors": error.message_dict, "detail": messages_of(error)}
        except Conflict as error:
            status, payload = 409, {"detail": str(error)}
        else:
            payload = {"id": moved.pk, "stage_id": moved.stage_id, "stage": moved.stage.name,
                       "probability": moved.probability, "version": moved.version, "is_closed": moved.is_closed}
    if _wants_json(request):
        return JsonResponse(payload, status=status)
    if status == 200:
        messages.success(request, _("“%(name)s” moved to %(stage)s.") % {"name": opportunity.name,
                                                                       "stage": payload["stage"]})
    else:
        messages.error(request, payload.get("detail") or _("Choose a close reason for a closed stage."))
    fallback = reverse("sales:opportunity_detail", args=[opportunity.pk])
    target = request.POST.get("next") or fallback
    return redirect(target if target.startswith("/") else fallback)


@staff_page
@require_POST
def opportunity_delete(request, opportunity_id: int):
    try:
        services.opportunity_delete(actor=request.user, opportunity_id=opportunity_id, ip_address=client_ip(request))
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("sales:opportunity_detail", opportunity_id=opportunity_id)
    messages.success(request, _("Opportunity deleted."))
    return redirect("sales:pipeline_board")
