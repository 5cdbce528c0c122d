"""Message template pages: list, form, and the template page with its preview for a chosen
contact and the test send."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.marketing import mail_merge, selectors, services
from guanxi.marketing.forms import MessageTemplateForm, PreviewForm, TestSendForm
from guanxi.marketing.models import TemplateChannel


@staff_page
def template_list(request):
    templates = selectors.template_list(request.user, query=request.GET.get("q", "").strip(),
                                        channel=request.GET.get("channel", ""))
    return render(request, "marketing/template_list.html", {
        "section": "templates", "window": page_window(templates, request.GET.get("page")),
        "channels": TemplateChannel.choices, "may_create": can(request.user, selectors.TEMPLATE, "create")})


def _form_page(request, form, template=None, status=200):
    return render(request, "marketing/template_form.html", {
        "section": "templates", "form": form, "template": template, "fields": mail_merge.FIELDS,
        "syntax_help": _("Write {{ contact.given_name }} to insert a value, and {% if contact.value_tier == 'gold' %}"
                         "…{% endif %} for a block only some people see. Email bodies are HTML; SMS and letters "
                         "are plain text."),
        "title": _("Edit template %(name)s") % {"name": template.name} if template else _("New template"),
        "cancel_url": reverse("marketing:template_detail", args=[template.pk]) if template
        else reverse("marketing:template_list")}, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def template_create(request):
    if not can(request.user, selectors.TEMPLATE, "create"):
        raise PermissionDenied(_("You may not create templates."))
    form = MessageTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.message_template_create(actor=request.user, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("marketing:template_detail", template.pk)
    return _form_page(request, form, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def template_edit(request, template_id: int):
    template = selectors.access_template_by_id(request.user, template_id, "change")
    form = MessageTemplateForm(request.POST or None, initial={
        name: getattr(template, name) for name in ("name", "channel", "subject_en", "body_en", "subject_zh",
                                                   "body_zh")})
    if request.method == "POST" and form.is_valid():
        try:
            template = services.message_template_update(actor=request.user, template_id=template.pk,
                                                        data=form.to_service_data(),
                                                        expected_version=_int(request.POST.get("version")))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
            return redirect("marketing:template_detail", template.pk)
    return _form_page(request, form, template, status=400 if request.method == "POST" else 200)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def find_contact(user, text: str):
    """A contact by number, or the first match of the global search."""
    text = (text or "").strip()
    if text.isdigit():
        return core_selectors.visible_contacts(user).filter(pk=int(text)).first()
    results = core_selectors.global_search(user, text, limit=1)
    return results.contacts[0] if results.contacts else None


@staff_page
def template_detail(request, template_id: int):
    template = selectors.access_template_by_id(request.user, template_id)
    preview, preview_errors = None, []
    form = PreviewForm(request.GET if "contact" in request.GET else None)
    if form.is_bound and form.is_valid():
        contact = find_contact(request.user, form.cleaned_data["contact"])
        if contact is None:
            form.add_error("contact", _("No contact found."))
        else:
            try:
                preview = services.template_preview(actor=request.user, template_id=template.pk,
                                                    contact_id=contact.pk, language=form.cleaned_data["language"])
                preview = {"contact": contact, "message": preview}
            except ValidationError as error:
                preview_errors = [f"{key}: {message}" if key != "__all__" else message
                                  for key, texts in error.message_dict.items() for message in texts]
    return render(request, "marketing/template_detail.html", {
        "section": "templates", "template": template, "form": form, "preview": preview,
        "preview_errors": preview_errors,
        "test_form": TestSendForm(initial={"to_email": request.user.email, **request.GET.dict()}),
        "may_change": selectors.visible_templates(request.user, "change").filter(pk=template.pk).exists()
        if can(request.user, selectors.TEMPLATE, "change") else False,
        "may_delete": selectors.visible_templates(request.user, "delete").filter(pk=template.pk).exists()
        if can(request.user, selectors.TEMPLATE, "delete") else False,
    })


@staff_page
@require_POST
def template_test_send(request, template_id: int):
    form = TestSendForm(request.POST)
    if form.is_valid():
        contact = find_contact(request.user, form.cleaned_data["contact"])
        if contact is None:
            messages.error(request, _("No contact found."))
        else:
            try:
                services.template_test_send(actor=request.user, template_id=template_id, contact_id=contact.pk,
                                            to_email=form.cleaned_data["to_email"],
                                            language=form.cleaned_data["language"])
            except ValidationError as error:
                for texts in error.message_dict.values():
                    for message in texts:
                        messages.error(request, message)
            else:
                messages.success(request, _("Test message sent to %(email)s.") % {
                    "email": form.cleaned_data["to_email"]})
    else:
        for texts in form.errors.values():
            for message in texts:
                messages.error(request, message)
    return redirect("marketing:template_detail", template_id)


@staff_page
@require_POST
def template_delete(request, template_id: int):
    try:
        services.message_template_delete(actor=request.user, template_id=template_id)
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("marketing:template_detail", template_id)
    messages.success(request, _("Template deleted."))
    return redirect("marketing:template_list")
