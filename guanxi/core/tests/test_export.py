"""Exporting contacts and accounts: what the user may export, filters, formats, audit,
and the round trip export → import into an empty database."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.core import exporting, importing, selectors, services
from guanxi.core.models import (
    Account, Address, AuditLog, Contact, ContactEmail, ContactPhone, Role, Team, Territory,
)

pytestmark = pytest.mark.django_db


def export_cli(*arguments):
    out = io.StringIO()
    call_command("export_data", *arguments, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def sales_floor(admin_user, make_user):
    """Two teams: the east team's manager and rep, and a rep of the west team."""
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    people = {
        "manager": make_user("manager", Role.SALES_MANAGER, team=east),
        "east_rep": make_user("east_rep", Role.SALES_REP, team=east),
        "west_rep": make_user("west_rep", Role.SALES_REP, team=west),
    }
    services.contact_create(actor=people["east_rep"], data={"full_name": "East One", "phone": "13800000001",
                                                            "lifecycle_stage": "active"})
    services.contact_create(actor=people["manager"], data={"full_name": "East Two", "lifecycle_stage": "new"})
    services.contact_create(actor=people["west_rep"], data={"full_name": "West One", "lifecycle_stage": "active"})
    return people


def test_cli_exports_csv_and_audits_the_count(admin_user, sales_floor, tmp_path):
    output = tmp_path / "all.csv"
    message = export_cli("contacts", "--format", "csv", "--output", str(output))
    rows = read_csv(output)
    assert "Exported 3 contacts" in message
    assert sorted(row["full_name"] for row in rows) == ["East One", "East Two", "West One"]
    assert rows[0].keys() >= {"external_id", "full_name", "phone", "email", "account", "owner", "tags"}
    entry = AuditLog.objects.get(action="export")
    assert (entry.object_type, entry.changes["count"], entry.actor_id) == ("contact", 3, admin_user.pk)


def test_record_level_visibility_holds_for_exports(sales_floor, tmp_path):
    output = tmp_path / "team.csv"
    export_cli("contacts", "--output", str(output), "--user", "manager")
    assert sorted(row["full_name"] for row in read_csv(output)) == ["East One", "East Two"]
    # sales reps may not export at all
    with pytest.raises(PermissionDenied):
        exporting.start_export(actor=sales_floor["east_rep"], object_type="contact")
    with pytest.raises(CommandError):
        export_cli("contacts", "--output", str(tmp_path / "no.csv"), "--user", "east_rep")
    assert not (tmp_path / "no.csv").exists()
    assert AuditLog.objects.filter(action="export").count() == 1


def test_filters_narrow_the_export(admin_user, sales_floor, tmp_path):
    output = tmp_path / "active.csv"
    export_cli("contacts", "--output", str(output), "--stage", "active", "--owner", "west_rep")
    assert [row["full_name"] for row in read_csv(output)] == ["West One"]
    export = exporting.start_export(actor=admin_user, object_type="contact",
                                    filters=selectors.ContactFilters(query="13800000001"))
    assert export.count == 1 and [row[1] for row in export.rows] == ["East One"]
    assert AuditLog.objects.filter(action="export").first().changes["filters"] == {"query": "13800000001"}


def test_xlsx_export_has_the_same_rows(admin_user, sales_floor, tmp_path):
    output = tmp_path / "all.xlsx"
    export_cli("contacts", "--output", str(output))
    sheet = openpyxl.load_workbook(output, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    headers = list(rows[0])
    assert headers[:2] == ["external_id", "full_name"]
    assert sorted(row[headers.index("full_name")] for row in rows[1:]) == ["East One", "East Two", "West One"]


def test_cells_that_look_like_formulas_are_neutralised_and_come_back_intact(admin_user, tmp_path):
    services.contact_create(actor=admin_user, data={"full_name": "=HYPERLINK(\"http://x\")", "job_title": "@boss",
                                                    "phone": "+8613800000001"})
    output = tmp_path / "formula.csv"
    export_cli("contacts", "--output", str(output))
    (row,) = read_csv(output)
    assert (row["full_name"], row["job_title"], row["phone"]) == ("'=HYPERLINK(\"http://x\")", "'@boss",
                                                                  "+8613800000001")
    Contact.objects.all().delete()
    importing.import_file(actor=admin_user, path=output, object_type="contact")
    contact = Contact.objects.get()
    assert (contact.full_name, contact.job_title) == ("=HYPERLINK(\"http://x\")", "@boss")


def snapshot() -> dict:
    """Everything a user sees of the customer records, without database ids or timestamps."""
    accounts = {}
    for account in Account.objects.select_related("parent", "owner", "territory"):
        address = Address.objects.filter(account=account).values("province", "city", "street").first()
        accounts[account.name] = {
            "external_id": account.external_id, "kind": account.kind, "website": account.website,
            "phone": account.phone, "email": account.email, "annual_revenue": account.annual_revenue,
            "employees": account.employees, "is_key_account": account.is_key_account,
            "parent": account.parent.name if account.parent else None, "owner": account.owner.username,
            "territory": account.territory.code if account.territory else None, "industry": account.industry,
            "tags": sorted(account.tags.values_list("name", flat=True)), "custom_data": account.custom_data,
            "address": address, "search_text": account.search_text, "value_tier": account.value_tier,
        }
    contacts = {}
    skip = {"id", "created_at", "updated_at", "version", "account_id", "owner_id", "team_id", "territory_id"}
    for contact in Contact.objects.select_related("account", "owner", "team", "territory"):
        values = {field.attname: getattr(contact, field.attname) for field in Contact._meta.concrete_fields
                  if field.attname not in skip}
        values.update({
            "account": contact.account.name if contact.account else None, "owner": contact.owner.username,
            "team": contact.team.name if contact.team else None,
            "territory": contact.territory.code if contact.territory else None,
            "phones": sorted(ContactPhone.objects.filter(contact=contact).values_list("number", "kind", "is_primary")),
            "emails": sorted(ContactEmail.objects.filter(contact=contact).values_list("email", "is_primary")),
            "tags": sorted(contact.tags.values_list("name", flat=True)),
            "address": Address.objects.filter(contact=contact).values("province", "city", "district", "street",
                                                                      "postcode", "country").first(),
        })
        contacts[contact.full_name] = values
    return {"accounts": accounts, "contacts": contacts}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_round_trip_export_then_import_into_an_empty_database_reproduces_the_records(
        admin_user, make_user, tmp_path, file_format):
    # given a varied set of records
    territory = Territory.objects.create(code="cn-south", name="South China")
    rep = make_user("rep", Role.SALES_REP, team=Team.objects.create(name="Guangzhou"), territory=territory)
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "since", "label": "Since",
                                                         "field_type": "date"})
    services.custom_field_create(actor=admin_user, data={"target": "account", "key": "rating", "label": "Rating",
                                                         "field_type": "integer"})
    group = services.account_create(actor=admin_user, data={
        "name": "华南集团", "external_id": "G1", "website": "https://hn.example", "phone": "020 8888 6666",
        "annual_revenue": "5000000.00", "employees": 900, "is_key_account": True, "industry": "制造",
        "tags": ["集团"], "custom_data": {"rating": 5}, "value_tier": "gold",
        "addresses": [{"province": "广东省", "city": "广州", "street": "天河路 1 号", "is_primary": True}]})
    branch = services.account_create(actor=admin_user, data={"name": "深圳分部", "parent_id": group.pk,
                                                              "owner_id": rep.pk, "kind": "company"})
    services.contact_create(actor=admin_user, data={
        "external_id": "C1", "family_name": "陈", "given_name": "静", "phone": "13800000001",
        "phones": [{"number": "020-8888-6667", "kind": "work"}, {"number": "13900000002", "kind": "mobile"}],
        "email": "chen.jing@hn.example", "emails": ["jing@home.example"], "account_id": group.pk,
        "birth_date": datetime.date(1988, 8, 8), "gender": "female", "household_size": 4,
        "interests": ["tea", "hiking"], "consent_email": True, "consent_phone": True, "lifecycle_stage": "loyal",
        "value_tier": "platinum", "tags": ["vip", "广州"], "owner_id": rep.pk, "custom_data": {"since": "2015-01-31"},
        "addresses": [{"province": "广东省", "city": "广州", "district": "天河区", "street": "体育西路 2 号",
                       "postcode": "510620", "is_primary": True}]})
    services.contact_create(actor=admin_user, data={"full_name": "Peter Lee", "email": "peter@example.com",
                                                    "account_id": branch.pk, "job_title": "=1+2",
                                                    "preferred_language": "en", "do_not_contact": True})
    services.contact_create(actor=admin_user, data={"full_name": "无名氏", "phone": "+1 415 555 0100"})
    before = snapshot()
    # when both are exported, the records deleted, and the files imported (accounts first)
    accounts_file, contacts_file = tmp_path / f"accounts.{file_format}", tmp_path / f"contacts.{file_format}"
    export_cli("accounts", "--output", str(accounts_file))
    export_cli("contacts", "--output", str(contacts_file))
    Contact.objects.all().delete()
    Account.objects.all().delete()
    for object_type, path in (("account", accounts_file), ("contact", contacts_file)):
        result = importing.import_file(actor=admin_user, path=path, object_type=object_type)
        assert result.error_rows == 0, [str(issue) for issue in result.errors]
    # then the records are back as they were
    after = snapshot()
    assert after["accounts"] == before["accounts"]
    assert after["contacts"] == before["contacts"]
