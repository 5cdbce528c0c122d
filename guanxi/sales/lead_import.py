"""Lead import from CSV or XLSX: columns recognised by name (English or Chinese), every row
checked through the same service as a manual entry, upsert by external ID, all or nothing.

A file with any bad row imports nothing and the report names the file, row and column of
each problem; ``dry_run`` checks without keeping anything. Used by ``guanxi import-leads``
and ``POST /api/v1/sales/leads/import``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.importing import ImportFileError, Issue, TableFile, header_key
from guanxi.core.models import AuditAction, User
from guanxi.sales.models import Lead, LeadSource
from guanxi.sales.services.common import require

# Lead field → the headers that mean it (compared without case, spaces or punctuation).
COLUMNS = {
    "external_id": ("external id", "外部编号", "crm id"),
    "full_name": ("full name", "name", "姓名", "联系人"),
    "family_name": ("family name", "last name", "surname", "姓"),
    "given_name": ("given name", "first name", "名"),
    "company": ("company", "公司", "公司名称", "organization"),
    "job_title": ("job title", "title", "职位", "职务"),
    "email": ("email", "e-mail", "邮箱", "电子邮件"),
    "phone": ("phone", "mobile", "telephone", "手机", "电话"),
    "industry": ("industry", "行业"),
    "province": ("province", "state", "省份", "省"),
    "city": ("city", "城市"),
    "postcode": ("postcode", "zip", "postal code", "邮编"),
    "campaign_name": ("campaign", "活动", "市场活动"),
    "estimated_amount": ("estimated amount", "amount", "budget", "预计金额", "预算"),
    "currency": ("currency", "币种"),
    "description": ("description", "notes", "备注", "需求"),
}


@dataclass
class LeadImportResult:
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    dry_run: bool = False
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class _Undo(Exception):
    """Rolls the import back after a dry run or a file with errors."""


def column_mapping(headers: list[str]) -> dict[str, str]:
    """Header → lead field for the headers recognised."""
    lookup = {header_key(alias): name for name, aliases in COLUMNS.items() for alias in (name, *aliases)}
    mapping, used = {}, set()
    for header in headers:
        name = lookup.get(header_key(header))
        if name and name not in used:
            mapping[header] = name
            used.add(name)
    return mapping


def import_leads(*, actor: User, path: str | Path, dry_run: bool = False, auto_assign: bool = False,
                 campaign_name: str = "", file_label: str | None = None) -> LeadImportResult:
    """Check every row, then keep all of them or none."""
    require(actor, "lead", "import", _("You may not import leads."))
    table = TableFile(path, file_label=file_label)
    mapping = column_mapping(table.headers)
    fields = set(mapping.values())
    problems = []
    if not fields & {"full_name", "family_name", "given_name"}:
        problems.append(Issue(table.file_label, 1, "", _("No name column: add one headed e.g. “Full name” or "
                                                         "“姓名”.")))
    if not fields & {"email", "phone"}:
        problems.append(Issue(table.file_label, 1, "", _("No email or phone column: leads must be reachable.")))
    if problems:
        raise ImportFileError(problems)
    header_of = {name: header for header, name in mapping.items()}
    result = LeadImportResult(file=table.file_label, dry_run=dry_run)
    try:
        with transaction.atomic():
            for number, cells in table.rows():
                result.rows += 1
                data = {}
                for index, header in enumerate(table.headers):
                    name = mapping.get(header)
                    if name and index < len(cells) and cells[index] not in (None, ""):
                        data[name] = str(cells[index]).strip()
                if campaign_name and not data.get("campaign_name"):
                    data["campaign_name"] = campaign_name
                data.setdefault("source", LeadSource.IMPORT)
                _import_row(actor, data, auto_assign, result, number, header_of)
            if result.issues or dry_run:
                raise _Undo
            audit_record(actor=actor, action=AuditAction.IMPORT, object_type="lead", changes={
                "file": [None, table.file_label], "created": [None, result.created],
                "updated": [None, result.updated]})
    except _Undo:
        pass
    return result


def _import_row(actor, data: dict, auto_assign: bool, result: LeadImportResult, number: int,
                header_of: dict[str, str]) -> None:
    from guanxi.sales import services

    existing = Lead.objects.filter(external_id=data["external_id"]).first() if data.get("external_id") else None
    try:
        with transaction.atomic():
            if existing is not None:
                services.lead_update(actor=actor, lead_id=existing.pk, data=data)
                result.updated += 1
            else:
                services.lead_create(actor=actor, data=data, auto_assign=auto_assign)
                result.created += 1
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        for name, texts in messages.items():
            for text in texts:
                result.issues.append(Issue(result.file, number, header_of.get(name, ""), text,
                                           value=str(data.get(name, "") or "")))
    except (Conflict, NotFound) as error:
        result.issues.append(Issue(result.file, number, header_of.get("external_id", ""),
                                   str(error) or _("This lead cannot be changed."),
                                   value=data.get("external_id", "")))
