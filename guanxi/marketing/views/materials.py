"""The materials library pages: search, upload, versions, download."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.marketing import selectors, services
from guanxi.marketing.forms import MaterialForm, MaterialVersionForm


def file_response(version) -> FileResponse:
    content_type = mimetypes.guess_type(version.file_name)[0] or "application/octet-stream"
    return FileResponse(version.file.open("rb"), as_attachment=True, filename=version.file_name,
                        content_type=content_type)


@staff_page
def material_list(request):
    query, tag = request.GET.get("q", "").strip(), request.GET.get("tag", "").strip()
    return render(request, "marketing/material_list.html", {
        "section": "materials", "query": query, "tag": tag,
        "window": page_window(selectors.material_list(request.user, query=query, tag=tag), request.GET.get("page")),
        "may_create": can(request.user, selectors.MATERIAL, "create")})


@staff_page
@require_http_methods(["GET", "POST"])
def material_create(request):
    if not can(request.user, selectors.MATERIAL, "create"):
        raise PermissionDenied(_("You may not add materials."))
    form = MaterialForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            material = services.material_create(actor=request.user, data=form.to_service_data(),
                                                 upload=form.cleaned_data["file"], note=form.cleaned_data["note"])
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Material “%(title)s” added.") % {"title": material.title})
            return redirect("marketing:material_detail", material.pk)
    return render(request, "marketing/material_form.html", {"section": "materials", "form": form},
                  status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def material_detail(request, material_id: int):
    material = selectors.access_material_by_id(request.user, material_id)
    may_change = can(request.user, selectors.MATERIAL, "change") and \
        selectors.visible_materials(request.user, "change").filter(pk=material.pk).exists()
    form = MaterialVersionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                version = services.material_add_version(actor=request.user, material_id=material.pk,
                                                        upload=form.cleaned_data["file"],
                                                        note=form.cleaned_data["note"])
            except ValidationError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("Version %(number)d uploaded.") % {"number": version.number})
                return redirect("marketing:material_detail", material.pk)
    return render(request, "marketing/material_detail.html", {
        "section": "materials", "material": material, "versions": material.versions.select_related("uploaded_by"),
        "campaigns": material.campaigns.all()[:20], "form": form, "may_change": may_change,
        "may_delete": can(request.user, selectors.MATERIAL, "delete") and
        selectors.visible_materials(request.user, "delete").filter(pk=material.pk).exists(),
    }, status=400 if request.method == "POST" else 200)


@staff_page
def material_download(request, material_id: int, number: int):
    return file_response(services.material_version_for_download(actor=request.user, material_id=material_id,
                                                                 number=number))


@staff_page
@require_POST
def material_delete(request, material_id: int):
    try:
        services.material_delete(actor=request.user, material_id=material_id)
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("marketing:material_detail", material_id)
    messages.success(request, _("Material deleted."))
    return redirect("marketing:material_list")
