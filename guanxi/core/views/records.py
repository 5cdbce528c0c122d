"""Web pages: the home dashboard, contacts and accounts (list, detail, 360°, forms),
global search, and the in-app administration of custom fields and the audit log.

Each view is thin: read through a selector (which carries the access check), or clean a
form and call one service, then render. Selectors raise ``NotFound`` (→ 404, see
``guard.staff_page``) for records outside the user's scope and ``PermissionDenied``
(→ the friendly 403 page) for actions the user's role does not allow.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from guanxi.core import record_panels, selectors, services
from guanxi.core.access import can
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.forms import (
    AccountFilterForm, AccountForm, AuditFilterForm, ContactFilterForm, ContactForm, CustomFieldForm,
)
from guanxi.core.models import Address, ContactEmail, ContactPhone
from guanxi.core.templatetags.record_tables import ACCOUNT_ROW_COLUMNS, CONTACT_ROW_COLUMNS
from guanxi.core.views.guard import client_ip, staff_page
from guanxi.core.views.paging import page_window

SEARCH_LIMIT = 20
ACCOUNT_SUGGESTIONS = 20
RELATED_CONTACTS = 10
ACCOUNT_CONTACTS = 25


# ======================================================================================
# Pieces shared by the pages below
# ======================================================================================
def sort_columns(request, columns, current: str) -> list[dict]:
    """Table headings: a link that sorts by the column (again: the other way round) and
    ``aria-sort`` on the column the list is sorted by."""
    headings = []
    for key, label in columns:
        heading = {"label": label, "key": key, "href": "", "aria_sort": ""}
        if key:
            query = request.GET.copy()
            query.pop("page", None)
            query["sort"] = f"-{key}" if current == key else key
            heading["href"] = "?" + query.urlencode()
            heading["aria_sort"] = {key: "ascending", f"-{key}": "descending"}.get(current, "")
        headings.append(heading)
    return headings


def _active_filters(request) -> bool:
    """True when the list is narrowed by more than the search box (keeps the filter panel open)."""
    return any(value for key, value in request.GET.items() if key not in ("q", "sort", "page"))


def _may(visible, actor, action: str, record_id: int) -> bool:
    """True when ``actor`` may ``action`` this record (one indexed query)."""
    try:
        return visible(actor, action).filter(pk=record_id).exists()
    except PermissionDenied:
        return False


def _custom_values(target: str, stored: dict) -> list[tuple]:
    return [(definition, stored[definition.key]) for definition in selectors.custom_fields_for(target)
            if stored.get(definition.key) not in (None, "")]


def _filter_errors_to_form(form, error: ValidationError) -> None:
    """Errors of the list selector (keyed ``cf_<key>`` for custom field filters) onto the filter form."""
    for key, texts in error.message_dict.items():
        for text in texts:
            form.add_error(key if key in form.fields else None, text)


# ======================================================================================
# Home
# ======================================================================================
@staff_page
def home(request):
    """The signed-in user's desk: their records, and what other domains add (recent
    interactions, running jobs…) through ``record_panels``."""
    user = request.user
    counts = []
    for label, visible, url_name in ((_("My contacts"), selectors.visible_contacts, "core:contact_list"),
                                     (_("My accounts"), selectors.visible_accounts, "core:account_list")):
        try:
            counts.append({"label": label, "count": visible(user).filter(owner_id=user.pk).count(),
                           "url_name": url_name})
        except PermissionDenied:
            continue
    return render(request, "core/home.html", {
        "counts": counts, "panels": record_panels.render_panels("home", request),
        "may_create_contact": can(user, "contact", "create"),
    })


# ======================================================================================
# Contacts
# ======================================================================================
# Headings are lazy: the tuple is built once at import, the words in each request's language.
CONTACT_COLUMNS = (("name", gettext_lazy("Name")), ("", gettext_lazy("Account")), ("", gettext_lazy("Phone")),
                   ("", gettext_lazy("Email")), ("stage", gettext_lazy("Lifecycle stage")),
                   ("", gettext_lazy("Owner")), ("updated", gettext_lazy("Updated")))


@staff_page
def contact_list(request):
    """Sortable, filterable, paginated. Budget: ≤ 10 SQL queries at any number of
    contacts — no COUNT(*); the page fetches 51 rows to know whether a next page exists."""
    form = ContactFilterForm(request.GET, actor=request.user)
    sort = request.GET.get("sort", "name")
    sort = sort if sort in selectors.CONTACT_SORTS else "name"
    window, status = None, 200
    if form.is_valid():
        try:
            contacts = selectors.contact_list(request.user, form.to_filters(request.GET), sort)
        except ValidationError as error:
            _filter_errors_to_form(form, error)
        else:
            window = page_window(contacts.only(*CONTACT_ROW_COLUMNS), request.GET.get("page"),
                                 full_text=bool(form.cleaned_data.get("q")))
    if window is None:
        status = 400
    return render(request, "core/contact_list.html", {
        "form": form, "window": window, "headings": sort_columns(request, CONTACT_COLUMNS, sort),
        "may_create": can(request.user, "contact", "create"), "active_filters": _active_filters(request),
    }, status=status)


@staff_page
def contact_detail(request, contact_id: int):
    user = request.user
    contact = selectors.access_contact_by_id(user, contact_id)
    return render(request, "core/contact_detail.html", {
        "contact": contact,
        "phones": ContactPhone.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "emails": ContactEmail.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "addresses": Address.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "tags": contact.tags.all(),
        "custom_values": _custom_values("contact", contact.custom_data or {}),
        "may_change": _may(selectors.visible_contacts, user, "change", contact.pk),
        "may_delete": _may(selectors.visible_contacts, user, "delete", contact.pk),
        "may_view_audit": can(user, "audit_log", "view"),
    })


@staff_page
def contact_360(request, contact_id: int):
    """One customer, one page: who they are, what they are linked to, and every touch
    on one timeline (the timeline panel comes from the interactions domain)."""
    user = request.user
    contact = selectors.access_contact_by_id(user, contact_id)
    colleagues = []
    if contact.account_id:
        colleagues = list(selectors.visible_contacts(user).filter(account_id=contact.account_id)
                          .exclude(pk=contact.pk).order_by("full_name", "id")[:RELATED_CONTACTS])
    return render(request, "core/contact_360.html", {
        "contact": contact,
        "phones": ContactPhone.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "emails": ContactEmail.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "addresses": Address.objects.filter(contact=contact).order_by("-is_primary", "id"),
        "tags": contact.tags.all(),
        "colleagues": colleagues,
        "custom_values": _custom_values("contact", contact.custom_data or {}),
        "consents": [(_("Email"), contact.consent_email), (_("SMS"), contact.consent_sms),
                     (_("Phone"), contact.consent_phone), (_("Mail"), contact.consent_mail)],
        "panels": record_panels.render_panels("contact", request, contact),
        "may_change": _may(selectors.visible_contacts, user, "change", contact.pk),
    })


@staff_page
@require_http_methods(["GET", "POST"])
def contact_create(request):
    user = request.user
    if not can(user, "contact", "create"):
        raise PermissionDenied(_("You may not create contacts."))
    account = None
    if request.GET.get("account"):
        try:
            account = selectors.access_account_by_id(user, request.GET["account"])
        except NotFound:
            account = None
    form = ContactForm(request.POST or None, actor=user, account=account)
    if request.method == "POST":
        if form.is_valid():
            try:
                contact = services.contact_create(actor=user, data=form.to_service_data(),
                                                  ip_address=client_ip(request))
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Contact “%(name)s” created.") % {"name": contact.full_name})
                return redirect("core:contact_360", contact_id=contact.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("New contact"), "cancel_url": reverse("core:contact_list"),
    }, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def contact_edit(request, contact_id: int):
    user = request.user
    contact = selectors.access_contact_by_id(user, contact_id, "change")
    form = ContactForm(request.POST or None, actor=user, contact=contact)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                contact = services.contact_update(actor=user, contact_id=contact.pk, data=form.to_service_data(),
                                                  expected_version=form.cleaned_data.get("version"),
                                                  ip_address=client_ip(request))
            except ValidationError as error:
                form.apply_service_errors(error)
            except Conflict as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(request, _("Contact “%(name)s” saved.") % {"name": contact.full_name})
                if not _may(selectors.visible_contacts, user, "view", contact.pk):
                    messages.info(request, _("It now belongs to someone whose records you do not see."))
                    return redirect("core:contact_list")
                return redirect("core:contact_360", contact_id=contact.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("Edit %(name)s") % {"name": contact.full_name}, "record": contact,
        "cancel_url": reverse("core:contact_detail", args=[contact.pk]),
        "conflict": status == 409, "reload_url": reverse("core:contact_edit", args=[contact.pk]),
    }, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def contact_delete(request, contact_id: int):
    user = request.user
    contact = selectors.access_contact_by_id(user, contact_id, "delete")
    if request.method == "POST":
        services.contact_delete(actor=user, contact_id=contact.pk, ip_address=client_ip(request))
        messages.success(request, _("Contact “%(name)s” deleted.") % {"name": contact.full_name})
        return redirect("core:contact_list")
    return render(request, "core/confirm_delete.html", {
        "record": contact, "kind": _("contact"), "cancel_url": reverse("core:contact_detail", args=[contact.pk]),
    })


# ======================================================================================
# Accounts
# ======================================================================================
ACCOUNT_COLUMNS = (("name", gettext_lazy("Name")), ("", gettext_lazy("Industry")), ("", gettext_lazy("Phone")),
                   ("", gettext_lazy("Lifecycle stage")), ("", gettext_lazy("Value tier")),
                   ("", gettext_lazy("Owner")), ("updated", gettext_lazy("Updated")))


@staff_page
def account_list(request):
    """Same budget as the contact list: ≤ 10 SQL queries, no COUNT(*)."""
    form = AccountFilterForm(request.GET, actor=request.user)
    sort = request.GET.get("sort", "name")
    sort = sort if sort in selectors.ACCOUNT_SORTS else "name"
    window = None
    if form.is_valid():
        try:
            accounts = selectors.account_list(request.user, form.to_filters(request.GET), sort)
        except ValidationError as error:
            _filter_errors_to_form(form, error)
        else:
            window = page_window(accounts.only(*ACCOUNT_ROW_COLUMNS), request.GET.get("page"),
                                 full_text=bool(form.cleaned_data.get("q")))
    return render(request, "core/account_list.html", {
        "form": form, "window": window, "headings": sort_columns(request, ACCOUNT_COLUMNS, sort),
        "may_create": can(request.user, "account", "create"), "active_filters": _active_filters(request),
    }, status=200 if window is not None else 400)


@staff_page
def account_detail(request, account_id: int):
    user = request.user
    account = selectors.access_account_by_id(user, account_id)
    return render(request, "core/account_detail.html", {
        "account": account,
        "parent": account.parent if account.parent_id else None,
        "addresses": Address.objects.filter(account=account).order_by("-is_primary", "id"),
        "tags": account.tags.all(),
        "team_members": account.team_members.select_related("user").order_by("user__username"),
        "custom_values": _custom_values("account", account.custom_data or {}),
        "may_change": _may(selectors.visible_accounts, user, "change", account.pk),
        "may_delete": _may(selectors.visible_accounts, user, "delete", account.pk),
        "may_view_audit": can(user, "audit_log", "view"),
    })


@staff_page
def account_360(request, account_id: int):
    user = request.user
    account = selectors.access_account_by_id(user, account_id)
    contacts = list(selectors.visible_contacts(user).filter(account_id=account.pk)
                    .select_related("owner").order_by("full_name", "id")[:ACCOUNT_CONTACTS + 1])
    return render(request, "core/account_360.html", {
        "account": account,
        "contacts": contacts[:ACCOUNT_CONTACTS], "more_contacts": len(contacts) > ACCOUNT_CONTACTS,
        "addresses": Address.objects.filter(account=account).order_by("-is_primary", "id"),
        "subsidiaries": selectors.visible_accounts(user).filter(parent_id=account.pk).order_by("name")[:10],
        "parent": account.parent if account.parent_id else None,
        "tags": account.tags.all(),
        "team_members": account.team_members.select_related("user").order_by("user__username"),
        "custom_values": _custom_values("account", account.custom_data or {}),
        "panels": record_panels.render_panels("account", request, account),
        "may_change": _may(selectors.visible_accounts, user, "change", account.pk),
        "may_create_contact": can(user, "contact", "create"),
    })


@staff_page
@require_http_methods(["GET", "POST"])
def account_create(request):
    user = request.user
    if not can(user, "account", "create"):
        raise PermissionDenied(_("You may not create accounts."))
    form = AccountForm(request.POST or None, actor=user)
    if request.method == "POST":
        if form.is_valid():
            try:
                account = services.account_create(actor=user, data=form.to_service_data(),
                                                  ip_address=client_ip(request))
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Account “%(name)s” created.") % {"name": account.name})
                return redirect("core:account_360", account_id=account.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("New account"), "cancel_url": reverse("core:account_list"),
    }, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def account_edit(request, account_id: int):
    user = request.user
    account = selectors.access_account_by_id(user, account_id, "change")
    form = AccountForm(request.POST or None, actor=user, account=account)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                account = services.account_update(actor=user, account_id=account.pk, data=form.to_service_data(),
                                                  expected_version=form.cleaned_data.get("version"),
                                                  ip_address=client_ip(request))
            except ValidationError as error:
                form.apply_service_errors(error)
            except Conflict as error:
                form.add_error(None, str(error))
                status = 409
            else:
                messages.success(request, _("Account “%(name)s” saved.") % {"name": account.name})
                if not _may(selectors.visible_accounts, user, "view", account.pk):
                    messages.info(request, _("It now belongs to someone whose records you do not see."))
                    return redirect("core:account_list")
                return redirect("core:account_360", account_id=account.pk)
    return render(request, "core/record_form.html", {
        "form": form, "title": _("Edit %(name)s") % {"name": account.name}, "record": account,
        "cancel_url": reverse("core:account_detail", args=[account.pk]),
        "conflict": status == 409, "reload_url": reverse("core:account_edit", args=[account.pk]),
    }, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def account_delete(request, account_id: int):
    user = request.user
    account = selectors.access_account_by_id(user, account_id, "delete")
    if request.method == "POST":
        services.account_delete(actor=user, account_id=account.pk, ip_address=client_ip(request))
        messages.success(request, _("Account “%(name)s” deleted.") % {"name": account.name})
        return redirect("core:account_list")
    return render(request, "core/confirm_delete.html", {
        "record": account, "kind": _("account"), "cancel_url": reverse("core:account_detail", args=[account.pk]),
    })


@staff_page
def account_suggestions(request):
    """``<option>``s for the account boxes of the forms, refreshed by htmx as the user types."""
    query = (request.GET.get("account") or request.GET.get("parent") or request.GET.get("q") or "").strip()
    accounts = []
    if query and "#" not in query:
        try:
            accounts = list(selectors.account_list(request.user, selectors.AccountFilters(query=query))
                            [:ACCOUNT_SUGGESTIONS])
        except PermissionDenied:
            accounts = []
    return render(request, "core/includes/account_options.html", {"accounts": accounts})


# ======================================================================================
# Search
# ======================================================================================
@staff_page
def search(request):
    """Contacts and accounts by name (Chinese too), company, email or phone in any format."""
    query = (request.GET.get("q") or "").strip()[:200]
    results = selectors.global_search(request.user, query, limit=SEARCH_LIMIT)
    return render(request, "core/search.html", {
        "query": query, "search_query": query, "results": results,
        "contacts_truncated": len(results.contacts) >= SEARCH_LIMIT,
        "accounts_truncated": len(results.accounts) >= SEARCH_LIMIT,
    })


# ======================================================================================
# Administration: custom fields and the audit log
# ======================================================================================
@staff_page
def custom_field_list(request):
    fields = selectors.custom_field_list(request.user)
    return render(request, "core/custom_field_list.html", {
        "fields": fields, "may_create": can(request.user, "custom_field", "create"),
    })


@staff_page
@require_http_methods(["GET", "POST"])
def custom_field_create(request):
    user = request.user
    if not can(user, "custom_field", "create"):
        raise PermissionDenied(_("You may not define custom fields."))
    form = CustomFieldForm(request.POST or None, initial={"target": request.GET.get("target", "contact")})
    if request.method == "POST":
        if form.is_valid():
            try:
                field = services.custom_field_create(actor=user, data=form.to_service_data())
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Custom field “%(key)s” added.") % {"key": field.key})
                return redirect("core:custom_field_list")
    return render(request, "core/record_form.html", {
        "form": form, "title": _("New custom field"), "cancel_url": reverse("core:custom_field_list"),
    }, status=400 if request.method == "POST" else 200)


@staff_page
def audit_log(request):
    form = AuditFilterForm(request.GET)
    window = None
    if form.is_valid():
        entries = selectors.audit_log_list(request.user, object_type=form.cleaned_data["object_type"].strip(),
                                           object_id=form.cleaned_data["object_id"].strip(),
                                           action=form.cleaned_data["action"])
        window = page_window(entries, request.GET.get("page"))
    else:
        selectors.audit_log_list(request.user)  # the access check comes first, before any 400
    return render(request, "core/audit_log.html", {"form": form, "window": window},
                  status=200 if window is not None else 400)


urlpatterns = [
    path("", home, name="home"),
    path("search/", search, name="search"),
    path("contacts/", contact_list, name="contact_list"),
    path("contacts/new/", contact_create, name="contact_create"),
    path("contacts/<int:contact_id>/", contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/360/", contact_360, name="contact_360"),
    path("contacts/<int:contact_id>/edit/", contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/delete/", contact_delete, name="contact_delete"),
    path("accounts/", account_list, name="account_list"),
    path("accounts/new/", account_create, name="account_create"),
    path("accounts/suggestions/", account_suggestions, name="account_suggestions"),
    path("accounts/<int:account_id>/", account_detail, name="account_detail"),
    path("accounts/<int:account_id>/360/", account_360, name="account_360"),
    path("accounts/<int:account_id>/edit/", account_edit, name="account_edit"),
    path("accounts/<int:account_id>/delete/", account_delete, name="account_delete"),
    path("settings/custom-fields/", custom_field_list, name="custom_field_list"),
    path("settings/custom-fields/new/", custom_field_create, name="custom_field_create"),
    path("settings/audit-log/", audit_log, name="audit_log"),
]
