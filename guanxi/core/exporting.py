"""Export of contacts and accounts to CSV and XLSX.

What a user may export is what ``selectors.contact_list`` / ``account_list`` return for
the ``export`` action: record-level visibility (own / team / territory / all) and the
list filters hold exactly as on the list pages. Rows stream in keyset-paginated batches
(a handful of queries per 2,000 records, whatever the total), so a million-row export
never sits in memory. Every export is audited once with its count.

The columns are the field names the importer reads (``guanxi.core.importing``), so an
export imported into an empty database reproduces the records: accounts first, then
contacts (which name their account by external ID or name).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from guanxi.core import selectors
from guanxi.core.audit import audit_record
from guanxi.core.models import (
    Account, Address, AuditAction, Contact, ContactEmail, ContactPhone, PhoneKind, Territory, User,
)

BATCH_SIZE = 2000
FORMATS = ("csv", "xlsx")
CONTACT_COLUMNS = (
    "external_id", "full_name", "family_name", "given_name", "alternate_name", "job_title",
    "phone", "phones", "work_phone", "home_phone", "fax", "other_phone", "email", "emails",
    "account", "account_external_id", "birth_date", "gender", "income_band", "occupation", "education",
    "marital_status", "household_size", "interests", "preferred_channel", "preferred_language",
    "consent_email", "consent_sms", "consent_phone", "consent_mail", "do_not_contact",
    "lifecycle_stage", "value_tier", "relationship_stage", "industry", "tags", "owner", "territory",
    "country", "province", "city", "district", "street", "postcode",
)
ACCOUNT_COLUMNS = (
    "external_id", "name", "kind", "website", "phone", "email", "annual_revenue", "currency", "employees",
    "is_key_account", "description", "parent_external_id", "lifecycle_stage", "value_tier", "relationship_stage",
    "industry", "tags", "owner", "territory", "country", "province", "city", "district", "street", "postcode",
)
PHONE_KIND_COLUMNS = {PhoneKind.MOBILE: "phones", PhoneKind.WORK: "work_phone", PhoneKind.HOME: "home_phone",
                      PhoneKind.FAX: "fax", PhoneKind.OTHER: "other_phone"}
ADDRESS_COLUMNS = ("country", "province", "city", "district", "street", "postcode")
LIST_JOIN = "; "
_PLAIN_NUMBER = re.compile(r"[+\-]?[\d\s().\-]+")


def spreadsheet_safe(text: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV/formula injection).

    A leading quote marks text; the importer drops it again. Numbers and phone numbers
    such as ``+8613812345678`` stay as they are.
    """
    if text and text[0] in "=+-@\t\r" and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return LIST_JOIN.join(str(item) for item in value)
    return spreadsheet_safe(str(value))


@dataclass
class Export:
    """An export ready to stream: the header row, the row iterator and how many rows."""

    object_type: str
    headers: list[str]
    rows: Iterator[list[str]]
    count: int


def _keyset_batches(queryset, fields: tuple[str, ...]) -> Iterator[list[dict]]:
    last_id = 0
    queryset = queryset.order_by("pk")
    while True:
        batch = list(queryset.filter(pk__gt=last_id).values("id", *fields)[:BATCH_SIZE])
        if not batch:
            return
        yield batch
        last_id = batch[-1]["id"]


class _Names:
    """Usernames and territory codes by id, read once per export."""

    def __init__(self):
        self.usernames: dict[int, str] = {}
        self.territory_codes = dict(Territory.objects.values_list("id", "code"))

    def username(self, user_id: int | None) -> str:
        if not user_id:
            return ""
        if user_id not in self.usernames:
            self.usernames.update(User.objects.filter(pk=user_id).values_list("id", "username"))
        return self.usernames.get(user_id, "")


def _addresses(owner_column: str, ids: list[int]) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for address in (Address.objects.filter(**{f"{owner_column}__in": ids}).order_by("-is_primary", "id")
                    .values(owner_column, *ADDRESS_COLUMNS)):
        found.setdefault(address[owner_column], address)
    return found


def _tags(model, owner_column: str, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for record_id, name in (model.tags.through.objects.filter(**{f"{owner_column}__in": ids})
                            .order_by("tag__name").values_list(owner_column, "tag__name")):
        found.setdefault(record_id, []).append(name)
    return found


def _custom_columns(object_type: str) -> list[str]:
    return [f"cf_{field.key}" for field in selectors.custom_fields_for(object_type)]


CONTACT_FIELDS = (
    "external_id", "full_name", "family_name", "given_name", "alternate_name", "job_title", "phone", "email",
    "account__name", "account__external_id", "birth_date", "gender", "income_band", "occupation", "education",
    "marital_status", "household_size", "interests", "preferred_channel", "preferred_language", "consent_email",
    "consent_sms", "consent_phone", "consent_mail", "do_not_contact", "lifecycle_stage", "value_tier",
    "relationship_stage", "industry", "owner_id", "territory_id", "custom_data",
)


def _contact_rows(queryset, custom: list[str]) -> Iterator[list[str]]:
    names = _Names()
    for batch in _keyset_batches(queryset, CONTACT_FIELDS):
        ids = [record["id"] for record in batch]
        phones: dict[int, list[tuple[str, str, bool]]] = {}
        for contact_id, number, kind, primary in (ContactPhone.objects.filter(contact_id__in=ids)
                                                  .order_by("-is_primary", "id")
                                                  .values_list("contact_id", "number", "kind", "is_primary")):
            phones.setdefault(contact_id, []).append((number, kind, primary))
        emails: dict[int, list[str]] = {}
        for contact_id, email in (ContactEmail.objects.filter(contact_id__in=ids).order_by("-is_primary", "id")
                                  .values_list("contact_id", "email")):
            emails.setdefault(contact_id, []).append(email)
        tags = _tags(Contact, "contact_id", ids)
        addresses = _addresses("contact_id", ids)
        for record in batch:
            row = {name: record.get(name) for name in CONTACT_COLUMNS}
            row["account"] = record["account__name"]
            row["account_external_id"] = record["account__external_id"]
            by_kind: dict[str, list[str]] = {}
            for number, kind, _primary in phones.get(record["id"], []):
                if number == record["phone"] and kind == PhoneKind.MOBILE:
                    continue  # the primary mobile is in "phone"
                by_kind.setdefault(PHONE_KIND_COLUMNS.get(kind, "other_phone"), []).append(number)
            row.update(by_kind)
            row["emails"] = [email for email in emails.get(record["id"], []) if email != record["email"]]
            row["tags"] = tags.get(record["id"], [])
            row["owner"] = names.username(record["owner_id"])
            row["territory"] = names.territory_codes.get(record["territory_id"], "")
            row.update(addresses.get(record["id"], {}))
            custom_data = record["custom_data"] or {}
            yield [cell(row.get(name)) for name in CONTACT_COLUMNS] + [cell(custom_data.get(name[3:]))
                                                                      for name in custom]


ACCOUNT_FIELDS = (
    "external_id", "name", "kind", "website", "phone", "email", "annual_revenue", "currency", "employees",
    "is_key_account", "description", "parent__external_id", "lifecycle_stage", "value_tier", "relationship_stage",
    "industry", "owner_id", "territory_id", "custom_data",
)


def _account_rows(queryset, custom: list[str]) -> Iterator[list[str]]:
    names = _Names()
    for batch in _keyset_batches(queryset, ACCOUNT_FIELDS):
        ids = [record["id"] for record in batch]
        tags = _tags(Account, "account_id", ids)
        addresses = _addresses("account_id", ids)
        for record in batch:
            row = {name: record.get(name) for name in ACCOUNT_COLUMNS}
            row["parent_external_id"] = record["parent__external_id"]
            row["tags"] = tags.get(record["id"], [])
            row["owner"] = names.username(record["owner_id"])
            row["territory"] = names.territory_codes.get(record["territory_id"], "")
            row.update(addresses.get(record["id"], {}))
            custom_data = record["custom_data"] or {}
            yield [cell(row.get(name)) for name in ACCOUNT_COLUMNS] + [cell(custom_data.get(name[3:]))
                                                                      for name in custom]


def start_export(*, actor: User, object_type: str, filters=None, file_format: str = "csv",
                 ip_address: str | None = None) -> Export:
    """Check the export right, count, audit, and return the rows to stream.

    ``filters`` is a ``selectors.ContactFilters`` / ``AccountFilters``; the selector raises
    ``PermissionDenied`` for roles without the export right.
    """
    if object_type == "contact":
        queryset = selectors.contact_list(actor, filters, action="export")
        columns, make_rows = CONTACT_COLUMNS, _contact_rows
    elif object_type == "account":
        queryset = selectors.account_list(actor, filters, action="export")
        columns, make_rows = ACCOUNT_COLUMNS, _account_rows
    else:
        raise ValueError(f"unknown object type {object_type!r}")
    queryset = queryset.select_related(None).order_by()
    count = queryset.count()
    custom = _custom_columns(object_type)
    audit_record(actor=actor, action=AuditAction.EXPORT, object_type=object_type, ip_address=ip_address,
                 changes={"count": count, "format": file_format, "filters": _describe(filters)})
    return Export(object_type, list(columns) + custom, make_rows(queryset, custom), count)


def _describe(filters) -> dict:
    if filters is None:
        return {}
    return {name: value for name, value in vars(filters).items() if value not in ("", None, ())}


# ======================================================================================
# Writers
# ======================================================================================
class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(export: Export, rows_per_chunk: int = 500) -> Iterator[str]:
    """The export as CSV text in pieces, for a streaming HTTP response (UTF-8 with BOM, which
    spreadsheet programs need to show Chinese text)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(export.headers)
    lines: list[str] = []
    for row in export.rows:
        lines.append(writer.writerow(row))
        if len(lines) >= rows_per_chunk:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def write_csv(export: Export, path: str | Path, progress=None) -> int:
    written = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(export.headers)
        for row in export.rows:
            writer.writerow(row)
            written += 1
            if progress and written % BATCH_SIZE == 0:
                progress(written, export.count)
    return written


def write_xlsx(export: Export, path: str | Path, progress=None) -> int:
    """XLSX in openpyxl's write-only mode (rows go to disk as they come)."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Contacts") if export.object_type == "contact" else _("Accounts"))
    sheet.append(export.headers)
    written = 0
    for row in export.rows:
        sheet.append(row)
        written += 1
        if progress and written % BATCH_SIZE == 0:
            progress(written, export.count)
    workbook.save(path)
    return written


def write_file(export: Export, path: str | Path, file_format: str, progress=None) -> int:
    if file_format not in FORMATS:
        raise ValueError(f"unknown format {file_format!r}")
    return (write_xlsx if file_format == "xlsx" else write_csv)(export, path, progress)


def export_filename(object_type: str, file_format: str, at: datetime.datetime | None = None) -> str:
    from django.utils import timezone

    at = at or timezone.localtime()
    plural = "contacts" if object_type == "contact" else "accounts"
    return f"guanxi-{plural}-{at:%Y%m%d-%H%M%S}.{file_format}"


def rows_as_text(export: Export) -> str:
    """The whole export as CSV text (for small exports and tests)."""
    buffer = io.StringIO()
    for piece in csv_chunks(export):
        buffer.write(piece)
    return buffer.getvalue()

