"""Territories with reassignment, quotas against actuals, expense claims, commission
statements, the knowledge board, and the product catalogue pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.forms import split_list
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.sales import forecasting, selectors, services
from guanxi.sales.forms import (
    ExpenseForm, KnowledgePostForm, PriceForm, ProductForm, QuotaForm, ReassignForm,
)
from guanxi.sales.models import ExpenseStatus, KnowledgeKind
from guanxi.sales.views.common import back_to, may, messages_of


# ======================================================================================
# Territories
# ======================================================================================
@staff_page
@require_http_methods(["GET", "POST"])
def territory_list(request):
    user = request.user
    territories = list(selectors.territories(user))
    form = ReassignForm(request.POST or None, territories=territories)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                log = services.territory_reassign(
                    actor=user, from_territory_id=data["from_territory"], to_territory_id=data["to_territory"],
                    from_owner_id=data["from_owner"], to_owner_id=data["to_owner"], reason=data["reason"])
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Moved %(leads)d open leads and %(deals)d open opportunities.")
                                 % {"leads": log.leads_moved, "deals": log.opportunities_moved})
                return redirect("sales:territory_list")
        status = 400
    return render(request, "sales/territory_list.html", {
        "territories": territories, "form": form, "may_change": can(user, "territory", "change"),
        "log": list(selectors.territory_reassignments(user)[:20])}, status=status)


# ======================================================================================
# Quotas
# ======================================================================================
@staff_page
@require_http_methods(["GET", "POST"])
def quota_list(request):
    user = request.user
    quotas = list(selectors.visible_quotas(user).select_related("user").order_by("-period_start",
                                                                                 "user__username")[:200])
    form = None
    status = 200
    if can(user, "quota", "create"):
        form = QuotaForm(request.POST or None, users=selectors.quota_users(user, "create").order_by("username"))
        if request.method == "POST":
            if form.is_valid():
                data = dict(form.cleaned_data)
                data["user_id"] = data.pop("user")
                try:
                    services.quota_create(actor=user, data=data)
                except ValidationError as error:
                    form.apply_service_errors(error)
                else:
                    messages.success(request, _("Quota set."))
                    return redirect("sales:quota_list")
            status = 400
    return render(request, "sales/quota_list.html", {
        "quotas": quotas, "attainment": forecasting.quota_attainment(user), "form": form}, status=status)


# ======================================================================================
# Expenses
# ======================================================================================
@staff_page
@require_http_methods(["GET", "POST"])
def expense_list(request):
    user = request.user
    status_filter = request.GET.get("status", "")
    window = page_window(selectors.expense_list(user, status=status_filter if status_filter in ExpenseStatus.values
                                                else ""), request.GET.get("page"))
    form = ExpenseForm(request.POST or None) if can(user, "expense", "create") else None
    status = 200
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                services.expense_create(actor=user, data=form.cleaned_data)
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Expense recorded."))
                return redirect("sales:expense_list")
        status = 400
    return render(request, "sales/expense_list.html", {
        "window": window, "form": form, "statuses": ExpenseStatus.choices, "status": status_filter,
        "may_decide": can(user, "expense", "change")}, status=status)


@staff_page
@require_POST
def expense_action(request, expense_id: int, action: str):
    user = request.user
    try:
        if action == "submit":
            services.expense_submit(actor=user, expense_id=expense_id)
        elif action in ("approve", "reject"):
            services.expense_decide(actor=user, expense_id=expense_id, approve=action == "approve",
                                    note=request.POST.get("note", ""))
        elif action == "reimburse":
            services.expense_mark_reimbursed(actor=user, expense_id=expense_id)
        elif action == "delete":
            services.expense_delete(actor=user, expense_id=expense_id)
        messages.success(request, _("Expense updated."))
    except (Conflict, PermissionDenied) as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, messages_of(error))
    return back_to(request, reverse("sales:expense_list"))


# ======================================================================================
# Commissions
# ======================================================================================
@staff_page
def commission_list(request):
    user = request.user
    period = request.GET.get("period", "")
    statements = selectors.commission_statements(user, period=period)
    lines = None
    if request.GET.get("user") and period:
        lines = list(selectors.commission_statement_lines(user, user_id=int(request.GET["user"]), period=period))
    return render(request, "sales/commission_list.html", {
        "statements": statements, "period": period, "lines": lines,
        "rules": list(selectors.commission_rules(user)), "may_manage": can(user, "commission", "change")})


# ======================================================================================
# Knowledge board
# ======================================================================================
@staff_page
def knowledge_list(request):
    user = request.user
    query, tag, kind = request.GET.get("q", "").strip(), request.GET.get("tag", ""), request.GET.get("kind", "")
    window = page_window(selectors.knowledge_post_list(user, query=query, tag=tag,
                                                       kind=kind if kind in KnowledgeKind.values else ""),
                         request.GET.get("page"), page_size=20)
    return render(request, "sales/knowledge_list.html", {
        "window": window, "query": query, "tag": tag, "kind": kind, "kinds": KnowledgeKind.choices,
        "tags": selectors.knowledge_tags(user), "may_post": can(user, "knowledge_post", "create")})


@staff_page
@require_http_methods(["GET", "POST"])
def knowledge_create(request):
    if not can(request.user, "knowledge_post", "create"):
        raise PermissionDenied(_("You may not post on the knowledge board."))
    form = KnowledgePostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["tags"] = split_list(data["tags"])
        try:
            post = services.knowledge_post_create(actor=request.user, data=data)
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Posted."))
            return redirect("sales:knowledge_detail", post_id=post.pk)
    return render(request, "core/record_form.html", {"form": form, "title": _("Share a tip or playbook"),
                                                     "cancel_url": reverse("sales:knowledge_list")},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def knowledge_detail(request, post_id: int):
    user = request.user
    post = selectors.access_knowledge_post_by_id(user, post_id)
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            services.knowledge_post_delete(actor=user, post_id=post.pk)
            messages.success(request, _("Post deleted."))
            return redirect("sales:knowledge_list")
        try:
            services.knowledge_comment_add(actor=user, post_id=post.pk, body=request.POST.get("body", ""))
        except ValidationError as problem:
            error = messages_of(problem)
        else:
            return redirect("sales:knowledge_detail", post_id=post.pk)
    return render(request, "sales/knowledge_detail.html", {
        "post": post, "comments": list(post.comments.select_related("author")), "error": error,
        "may_delete": may(selectors.visible_knowledge_posts, user, "delete", post.pk)}, status=400 if error else 200)


# ======================================================================================
# Products and price lists
# ======================================================================================
@staff_page
@require_http_methods(["GET", "POST"])
def product_list(request):
    user = request.user
    query = request.GET.get("q", "").strip()
    window = page_window(selectors.products(user, query=query).prefetch_related("prices__price_list"),
                         request.GET.get("page"))
    form = ProductForm(request.POST or None, auto_id="product_%s") if can(user, "product", "create") else None
    status = 200
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                product = services.product_create(actor=user, data=form.cleaned_data)
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Product %(sku)s added.") % {"sku": product.sku})
                return redirect("sales:product_list")
        status = 400
    try:
        price_lists = list(selectors.price_lists(user))
    except PermissionDenied:
        price_lists = []
    return render(request, "sales/product_list.html", {"window": window, "query": query, "form": form,
                                                       "price_lists": price_lists}, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def price_list_detail(request, price_list_id: int):
    user = request.user
    price_list = selectors.access_price_list_by_id(user, price_list_id)
    form = PriceForm(request.POST or None, auto_id="price_%s") if can(user, "price_list", "change") else None
    status = 200
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                services.price_list_update(actor=user, price_list_id=price_list.pk, data={"entries": [{
                    "product_id": form.cleaned_data["product"], "unit_price": form.cleaned_data["unit_price"]}]})
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Price saved."))
                return redirect("sales:price_list_detail", price_list_id=price_list.pk)
        status = 400
    return render(request, "sales/price_list_detail.html", {
        "price_list": price_list, "entries": list(price_list.entries.select_related("product")
                                                  .order_by("product__sku")), "form": form}, status=status)
