"""The marketing materials library: shared files with versions, tags and search."""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict
from guanxi.core.models import AuditAction, Tag, User
from guanxi.marketing import selectors
from guanxi.marketing.models import Material, MaterialVersion
from guanxi.marketing.services.common import full_clean_errors, raise_if, require_create, snapshot

MATERIAL_FIELDS = ("title", "description", "language")
MAX_BYTES = 50 * 1024 * 1024


def _apply(material: Material, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in MATERIAL_FIELDS:
        if field in data and data[field] is not None:
            setattr(material, field, data[field].strip())
    full_clean_errors(material, ["owner", "tags"], errors)
    return errors


def _set_tags(material: Material, names) -> None:
    if names is None:
        return
    tags = [Tag.objects.get_or_create(name=name[:60])[0] for name in {str(item).strip() for item in names} if name]
    material.tags.set(tags)


def _check_file(upload: UploadedFile | None, errors: dict) -> None:
    if upload is None:
        errors.setdefault("file", []).append(_("Choose a file."))
    elif upload.size > MAX_BYTES:
        errors.setdefault("file", []).append(_("Files up to %(size)d MB.") % {"size": MAX_BYTES // 1024 // 1024})
    elif upload.size == 0:
        errors.setdefault("file", []).append(_("The file is empty."))


def _store_version(material: Material, upload: UploadedFile, note: str, actor: User) -> MaterialVersion:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    number = (material.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = MaterialVersion(material=material, number=number, file_name=upload.name[:255], size=upload.size,
                              sha256=digest.hexdigest(), note=(note or "")[:300], uploaded_by=actor)
    version.file.save(upload.name, upload, save=False)
    version.save()
    Material.objects.filter(pk=material.pk).update(current_version=number, updated_at=timezone.now())
    material.current_version = number
    return version


@transaction.atomic
def material_create(*, actor: User, data: dict, upload: UploadedFile | None, note: str = "") -> Material:
    require_create(actor, selectors.MATERIAL, _("You may not add materials."))
    material = Material(owner=actor)
    errors = _apply(material, data)
    _check_file(upload, errors)
    raise_if(errors)
    material.save()
    _set_tags(material, data.get("tags"))
    _store_version(material, upload, note, actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=material,
                 changes=diff({}, snapshot(material, MATERIAL_FIELDS)))
    return material


@transaction.atomic
def material_add_version(*, actor: User, material_id: int, upload: UploadedFile | None,
                         note: str = "") -> MaterialVersion:
    material = selectors.access_material_by_id(actor, material_id, "change")
    material = Material.objects.select_for_update().get(pk=material.pk)
    errors: dict[str, list[str]] = {}
    _check_file(upload, errors)
    raise_if(errors)
    version = _store_version(material, upload, note, actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=material,
                 changes={"version": [version.number - 1, version.number], "file_name": [None, version.file_name]})
    return version


@transaction.atomic
def material_update(*, actor: User, material_id: int, data: dict) -> Material:
    material = selectors.access_material_by_id(actor, material_id, "change")
    before = snapshot(material, MATERIAL_FIELDS)
    raise_if(_apply(material, data))
    material.updated_at = timezone.now()
    material.save()
    _set_tags(material, data.get("tags"))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=material,
                 changes=diff(before, snapshot(material, MATERIAL_FIELDS)))
    return material


@transaction.atomic
def material_delete(*, actor: User, material_id: int) -> None:
    material = selectors.access_material_by_id(actor, material_id, "delete")
    in_use = list(material.campaigns.values_list("name", flat=True)[:3])
    if in_use:
        raise Conflict(_("Campaigns use this material (%(names)s).") % {"names": ", ".join(in_use)})
    files = [version.file for version in material.versions.all()]
    audit_record(actor=actor, action=AuditAction.DELETE, obj=material, changes={"title": [material.title, None]})
    material.delete()
    transaction.on_commit(lambda: [stored.delete(save=False) for stored in files])


def material_version_for_download(*, actor: User, material_id: int, number: int | None = None) -> MaterialVersion:
    from guanxi.core.errors import NotFound

    material = selectors.access_material_by_id(actor, material_id)
    version = material.versions.filter(number=number or material.current_version).first()
    if version is None:
        raise NotFound(f"material {material_id} version {number}")
    return version
