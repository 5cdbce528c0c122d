"""Quote, order and contract pages: the quote builder (lines with configurator options,
discounts, approval, sending, acceptance, versions, PDF), orders with tracking, and
contracts with signature and renewal."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window
from guanxi.sales import selectors, services
from guanxi.sales.documents import quote_pdf
from guanxi.sales.forms import ContractForm, OrderStatusForm, QuoteHeaderForm, QuoteLineForm, SignForm
from guanxi.sales.models import ApprovalStatus, ContractStatus, OrderStatus, ProductOption, QuoteStatus
from guanxi.sales.services.orders import NEXT_STATUSES
from guanxi.sales.views.common import may, messages_of


# ======================================================================================
# Quotes
# ======================================================================================
@staff_page
def quote_list(request):
    status = request.GET.get("status", "")
    approval = request.GET.get("approval", "")
    window = page_window(selectors.quote_list(request.user, status=status if status in QuoteStatus.values else "",
                                              approval_status=approval if approval in ApprovalStatus.values else "",
                                              query=request.GET.get("q", "").strip()), request.GET.get("page"))
    return render(request, "sales/quote_list.html", {"window": window, "status": status, "approval": approval,
                                                     "statuses": QuoteStatus.choices})


@staff_page
@require_POST
def quote_create(request, opportunity_id: int):
    """A draft quote for the deal, then straight to the builder."""
    try:
        quote = services.quote_create(actor=request.user, data={"opportunity_id": opportunity_id})
    except ValidationError as error:
        messages.error(request, messages_of(error))
        return redirect("sales:opportunity_detail", opportunity_id=opportunity_id)
    messages.success(request, _("Quote %(number)s started.") % {"number": quote.display_number})
    return redirect("sales:quote_detail", quote_id=quote.pk)


def _line_form(quote, data=None) -> QuoteLineForm:
    from guanxi.sales.models import PriceListEntry, Product

    priced = Product.objects.filter(is_active=True, pk__in=PriceListEntry.objects.filter(
        price_list=quote.price_list).values("product_id")).order_by("sku")
    options = [(option.option_id, f"{option.product.sku}: {option.option.name}"
                + (f" ({option.group})" if option.group else "") + (" *" if option.is_required else ""))
               for option in ProductOption.objects.filter(product__in=priced).select_related("product", "option")
               .order_by("product__sku", "group", "option__sku")]
    return QuoteLineForm(data, products=priced, options=options, auto_id="line_%s")


@staff_page
@require_http_methods(["GET", "POST"])
def quote_detail(request, quote_id: int):
    """The quote builder. POST ``action``: add a line, remove one, save the header."""
    user = request.user
    quote = selectors.access_quote_by_id(user, quote_id)
    may_change = may(selectors.visible_quotes, user, "change", quote.pk)
    editable = may_change and quote.status == QuoteStatus.DRAFT
    line_form = _line_form(quote)
    header_form = QuoteHeaderForm(initial={field: getattr(quote, field) for field in QuoteHeaderForm.base_fields},
                                  auto_id="header_%s")
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied(_("This quote cannot be changed."))
        action = request.POST.get("action")
        try:
            if action == "add_line":
                line_form = _line_form(quote, request.POST)
                if line_form.is_valid():
                    try:
                        services.quote_line_add(actor=user, quote_id=quote.pk, data=line_form.to_service_data())
                    except ValidationError as error:
                        line_form.apply_service_errors(error)
                    else:
                        messages.success(request, _("Line added."))
                        return redirect("sales:quote_detail", quote_id=quote.pk)
                status = 400
            elif action == "remove_line":
                services.quote_line_remove(actor=user, quote_id=quote.pk, line_id=int(request.POST.get("line", 0)))
                messages.success(request, _("Line removed."))
                return redirect("sales:quote_detail", quote_id=quote.pk)
            elif action == "header":
                header_form = QuoteHeaderForm(request.POST, auto_id="header_%s")
                if header_form.is_valid():
                    try:
                        services.quote_update(actor=user, quote_id=quote.pk, data=header_form.cleaned_data)
                    except ValidationError as error:
                        header_form.apply_service_errors(error)
                    else:
                        messages.success(request, _("Quote saved."))
                        return redirect("sales:quote_detail", quote_id=quote.pk)
                status = 400
        except (NotFound, Conflict) as error:
            messages.error(request, str(error))
            return redirect("sales:quote_detail", quote_id=quote.pk)
        quote = selectors.access_quote_by_id(user, quote_id)
    order = getattr(quote, "order", None) if quote.status == QuoteStatus.ACCEPTED else None
    return render(request, "sales/quote_detail.html", {
        "quote": quote, "lines": selectors.quote_lines(quote), "line_form": line_form, "header_form": header_form,
        "editable": editable, "may_change": may_change, "order": order,
        "may_order": quote.status == QuoteStatus.ACCEPTED and order is None and can(user, "order", "create"),
        "accept_url": request.build_absolute_uri(reverse("sales:quote_accept_page",
                                                         args=[services.quote_accept_token(quote)]))
        if may_change and quote.status == QuoteStatus.SENT else "",
    }, status=status)


@staff_page
@require_POST
def quote_action(request, quote_id: int, action: str):
    """Approve or refuse the discount, send, record acceptance, decline, revise, delete."""
    user = request.user
    target = quote_id
    try:
        if action == "approve":
            services.quote_approve(actor=user, quote_id=quote_id, note=request.POST.get("note", ""))
            messages.success(request, _("Discount approved."))
        elif action == "reject_discount":
            services.quote_reject_discount(actor=user, quote_id=quote_id, note=request.POST.get("note", ""))
            messages.success(request, _("Discount refused."))
        elif action == "send":
            quote = services.quote_send(actor=user, quote_id=quote_id, to_email=request.POST.get("to_email", ""),
                                        message=request.POST.get("message", ""))
            messages.success(request, _("Quote sent to %(address)s.") % {"address": quote.sent_to})
        elif action == "accept":
            services.quote_accept(actor=user, quote_id=quote_id,
                                  accepted_by_name=request.POST.get("accepted_by_name", ""),
                                  ip_address=client_ip(request))
            messages.success(request, _("Acceptance recorded."))
        elif action == "decline":
            services.quote_decline(actor=user, quote_id=quote_id, reason=request.POST.get("reason", ""))
            messages.success(request, _("Quote marked as declined."))
        elif action == "revise":
            target = services.quote_revise(actor=user, quote_id=quote_id).pk
            messages.success(request, _("New version created; the previous one is superseded."))
        elif action == "delete":
            quote = selectors.access_quote_by_id(user, quote_id)
            opportunity_id = quote.opportunity_id
            services.quote_delete(actor=user, quote_id=quote_id)
            messages.success(request, _("Draft quote deleted."))
            return redirect("sales:opportunity_detail", opportunity_id=opportunity_id)
    except (Conflict, PermissionDenied) as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, messages_of(error))
    return redirect("sales:quote_detail", quote_id=target)


@staff_page
def quote_pdf_download(request, quote_id: int):
    quote = selectors.access_quote_by_id(request.user, quote_id)
    language = request.GET.get("language")
    language = language if language in ("en", "zh-hans") else None
    response = HttpResponse(quote_pdf(quote, language=language), content_type="application/pdf")
    suffix = f"-{language}" if language else ""
    response["Content-Disposition"] = f'attachment; filename="{quote.display_number}{suffix}.pdf"'
    return response


# ======================================================================================
# Orders
# ======================================================================================
@staff_page
def order_list(request):
    status = request.GET.get("status", "")
    window = page_window(selectors.order_list(request.user, status=status if status in OrderStatus.values else "",
                                              query=request.GET.get("q", "").strip()), request.GET.get("page"))
    return render(request, "sales/order_list.html", {"window": window, "status": status,
                                                     "statuses": OrderStatus.choices})


@staff_page
@require_POST
def order_create(request, quote_id: int):
    try:
        order = services.order_create_from_quote(actor=request.user, quote_id=quote_id,
                                                 notes=request.POST.get("notes", ""))
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("sales:quote_detail", quote_id=quote_id)
    messages.success(request, _("Order %(number)s created.") % {"number": order.number})
    return redirect("sales:order_detail", order_id=order.pk)


@staff_page
@require_http_methods(["GET", "POST"])
def order_detail(request, order_id: int):
    user = request.user
    order = selectors.access_order_by_id(user, order_id)
    may_change = may(selectors.visible_orders, user, "change", order.pk)
    next_statuses = NEXT_STATUSES[order.status]
    form = OrderStatusForm(request.POST or None, auto_id="status_%s")
    form.fields["status"].choices = [(value, label) for value, label in OrderStatus.choices if value in next_statuses]
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.order_set_status(actor=user, order_id=order.pk, **form.cleaned_data)
            except ValidationError as error:
                form.apply_service_errors(error)
            except Conflict as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Order status updated."))
                return redirect("sales:order_detail", order_id=order.pk)
        status = 400
    try:
        contracts = list(selectors.visible_contracts(user).filter(order=order))
    except PermissionDenied:
        contracts = []
    return render(request, "sales/order_detail.html", {
        "order": order, "lines": list(order.lines.select_related("product")),
        "history": list(order.status_changes.select_related("changed_by")), "form": form,
        "may_change": may_change and bool(next_statuses), "contracts": contracts,
        "may_contract": can(user, "contract", "create") and order.status != OrderStatus.CANCELLED,
    }, status=status)


# ======================================================================================
# Contracts
# ======================================================================================
@staff_page
def contract_list(request):
    status = request.GET.get("status", "")
    window = page_window(selectors.contract_list(request.user, status=status if status in ContractStatus.values
                                                 else "", query=request.GET.get("q", "").strip()),
                         request.GET.get("page"))
    return render(request, "sales/contract_list.html", {"window": window, "status": status,
                                                        "statuses": ContractStatus.choices})


@staff_page
@require_http_methods(["GET", "POST"])
def contract_create(request, order_id: int):
    """A contract for an order, with its dates and renewal terms."""
    import datetime

    from django.utils import timezone

    user = request.user
    order = selectors.access_order_by_id(user, order_id)
    today = timezone.localdate()
    form = ContractForm(request.POST or None, initial={
        "title": _("Contract for order %(number)s") % {"number": order.number}, "start_date": today,
        "end_date": today.replace(year=today.year + 1) - datetime.timedelta(days=1), "value": order.subtotal,
        "currency": order.currency})
    if request.method == "POST" and form.is_valid():
        data = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
        data["auto_renew"] = bool(form.cleaned_data.get("auto_renew"))
        try:
            contract = services.contract_create(actor=user, data={"order_id": order.pk, **data})
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Contract %(number)s drafted.") % {"number": contract.number})
            return redirect("sales:contract_detail", contract_id=contract.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("New contract for order %(number)s") % {"number": order.number},
        "cancel_url": reverse("sales:order_detail", args=[order.pk])},
        status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def contract_detail(request, contract_id: int):
    user = request.user
    contract = selectors.access_contract_by_id(user, contract_id)
    may_change = may(selectors.visible_contracts, user, "change", contract.pk)
    sign_form = SignForm(request.POST or None, initial={"signed_by_name": contract.contact.full_name
                                                        if contract.contact_id else ""}, auto_id="sign_%s")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "sign" and sign_form.is_valid():
                services.contract_sign(actor=user, contract_id=contract.pk,
                                       signed_by_name=sign_form.cleaned_data["signed_by_name"])
                messages.success(request, _("Contract signed and active."))
                return redirect("sales:contract_detail", contract_id=contract.pk)
            if action == "renew":
                renewal = services.contract_renew(actor=user, contract_id=contract.pk)
                messages.success(request, _("Renewal %(number)s drafted.") % {"number": renewal.number})
                return redirect("sales:contract_detail", contract_id=renewal.pk)
            if action == "terminate":
                services.contract_terminate(actor=user, contract_id=contract.pk,
                                            reason=request.POST.get("reason", ""))
                messages.success(request, _("Contract terminated."))
                return redirect("sales:contract_detail", contract_id=contract.pk)
        except ValidationError as error:
            sign_form.add_error(None, messages_of(error))
        except Conflict as error:
            sign_form.add_error(None, str(error))
        status = 400
    return render(request, "sales/contract_detail.html", {
        "contract": contract, "may_change": may_change, "sign_form": sign_form,
        "renewals": list(contract.renewal_opportunities.all()), "next_terms": list(contract.renewals.all()),
    }, status=status)
