"""Importing accounts: upsert by external ID or name, parents within the same file,
validation of account fields, and contacts that name their account by external ID."""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal

import pytest
from django.db import connection

from guanxi.core import importing, services
from guanxi.core.models import Account, Address, AuditLog, Contact, ImportRunState, Role

pytestmark = pytest.mark.django_db


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def import_accounts(actor, path, **options):
    return importing.import_file(actor=actor, path=path, object_type="account", **options)


def test_accounts_with_chinese_headers_parents_and_addresses(admin_user, tmp_path):
    # given a group and its subsidiary (the parent first: rows apply in file order)
    path = write_csv(tmp_path / "公司.csv", [
        ["外部编号", "公司名称", "类型", "网站", "总机", "年收入", "币种", "员工数", "大客户", "上级公司编号", "行业", "省", "城市"],
        ["A-1", "华夏科技集团", "公司", "https://www.huaxia.cn", "010 6512 3456", "98000000", "CNY", "5000", "是", "",
         "软件", "北京市", "北京"],
        ["A-2", "华夏科技上海分公司", "company", "sh.huaxia.cn", "021-6888 8888", "1,200,000.50", "cny", "120", "否",
         "A-1", "软件", "上海市", "上海"],
    ])
    # when it is imported
    result = import_accounts(admin_user, path)
    # then both exist, normalized, and the child points at its parent
    assert (result.created, result.error_rows) == (2, 0)
    group, branch = Account.objects.get(external_id="A-1"), Account.objects.get(external_id="A-2")
    assert branch.parent_id == group.pk
    assert (branch.website, branch.phone, branch.annual_revenue, branch.currency) == (
        "https://sh.huaxia.cn", "+862168888888", Decimal("1200000.50"), "CNY")
    assert (group.is_key_account, group.employees, group.industry) == (True, 5000, "软件")
    assert group.search_text == services.account_search_text(group)
    assert list(Address.objects.filter(account=group).values_list("province", "city", "is_primary")) == [
        ("北京市", "北京", True)]
    assert AuditLog.objects.get(action="import").changes["created"] == 2


def test_a_parent_listed_after_its_subsidiary_is_reported(admin_user, tmp_path):
    path = write_csv(tmp_path / "order.csv", [["external_id", "name", "parent_external_id"],
                                              ["B-2", "Branch", "B-1"], ["B-1", "Group", ""]])
    result = import_accounts(admin_user, path)
    assert [(issue.row, issue.column) for issue in result.errors] == [(2, "parent_external_id")]
    assert "come earlier in the file" in result.errors[0].message
    assert Account.objects.count() == 0


def test_account_import_stores_what_account_create_stores(admin_user, tmp_path):
    data = {"external_id": "K1", "name": "Acme", "kind": "household", "website": "https://acme.example",
            "phone": "+1 415 555 0100", "email": "Info@Acme.example", "annual_revenue": Decimal("10.00"),
            "currency": "USD", "employees": 7, "is_key_account": True, "description": "Founded 1999",
            "lifecycle_stage": "loyal", "value_tier": "platinum", "relationship_stage": "value_added",
            "industry": "Retail", "tags": ["b2c"]}
    created = services.account_create(actor=admin_user, data=data)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_account WHERE id = %s", [created.pk])
        names = [column[0] for column in cursor.description]
        by_service = dict(zip(names, cursor.fetchone()))
    Account.objects.all().delete()
    path = write_csv(tmp_path / "acme.csv", [
        ["external_id", "name", "kind", "website", "phone", "email", "annual_revenue", "currency", "employees",
         "is_key_account", "description", "lifecycle_stage", "value_tier", "relationship_stage", "industry", "tags"],
        ["K1", "Acme", "Household", "https://acme.example", "+1 415 555 0100", "Info@Acme.example", "10", "usd", "7",
         "yes", "Founded 1999", "loyal", "platinum", "value_added", "Retail", "b2c"]])
    import_accounts(admin_user, path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_account WHERE external_id = 'K1'")
        by_import = dict(zip(names, cursor.fetchone()))
    for varying in ("id", "created_at", "updated_at"):
        by_service.pop(varying), by_import.pop(varying)
    assert by_import == by_service
    assert list(Account.objects.get().tags.values_list("name", flat=True)) == ["b2c"]


def test_upsert_by_external_id_then_by_name(admin_user, tmp_path):
    named = services.account_create(actor=admin_user, data={"name": "No ID Ltd"})
    path = write_csv(tmp_path / "a.csv", [["external_id", "name", "industry"], ["E1", "Acme", "Retail"],
                                          ["", "No ID Ltd", "Mining"]])
    first = import_accounts(admin_user, path)
    second = import_accounts(admin_user, write_csv(tmp_path / "b.csv", [["external_id", "name", "industry"],
                                                                        ["E1", "Acme Renamed", "Retail"]]))
    assert (first.created, first.updated) == (1, 1)
    assert (second.created, second.updated) == (0, 1)
    named.refresh_from_db()
    assert named.industry == "Mining" and named.version == 2
    assert sorted(Account.objects.values_list("name", flat=True)) == ["Acme Renamed", "No ID Ltd"]


def test_two_accounts_with_the_same_name_need_an_external_id(admin_user, tmp_path):
    for _copy in range(2):
        services.account_create(actor=admin_user, data={"name": "Twin"})
    result = import_accounts(admin_user, write_csv(tmp_path / "t.csv", [["name", "industry"], ["Twin", "X"]]))
    assert [(issue.row, issue.column) for issue in result.errors] == [(2, "name")]
    assert "Several accounts have this name" in result.errors[0].message
    assert set(Account.objects.values_list("industry", flat=True)) == {""}


def test_bad_account_cells_are_reported_and_nothing_written(admin_user, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["name", "website", "currency", "annual_revenue", "employees", "parent_external_id", "kind"],
        ["Bad web", "not a url", "", "", "", "", ""],
        ["Bad currency", "", "yuan", "", "", "", ""],
        ["Bad money", "", "", "lots", "", "", ""],
        ["Bad count", "", "", "", "-3", "", ""],
        ["Bad parent", "", "", "", "", "NOPE", ""],
        ["Bad kind", "", "", "", "", "", "club"],
    ])
    result = import_accounts(admin_user, path)
    assert {(issue.row, issue.column) for issue in result.errors} == {
        (2, "website"), (3, "currency"), (4, "annual_revenue"), (5, "employees"), (6, "parent_external_id"),
        (7, "kind")}
    assert result.run.state == ImportRunState.INVALID
    assert Account.objects.count() == 0


def test_contacts_name_their_account_by_external_id(admin_user, tmp_path):
    import_accounts(admin_user, write_csv(tmp_path / "a.csv", [["external_id", "name"], ["ACC-1", "Acme"]]))
    contacts = write_csv(tmp_path / "c.csv", [["full_name", "account_external_id"], ["Wang", "ACC-1"],
                                              ["Li", "ACC-404"]])
    result = importing.import_file(actor=admin_user, path=contacts, object_type="contact")
    assert [(issue.row, issue.column) for issue in result.errors] == [(3, "account_external_id")]
    assert Contact.objects.count() == 0  # all or nothing
    importing.import_file(actor=admin_user, path=contacts, object_type="contact", skip_invalid=True)
    assert list(Contact.objects.values_list("full_name", "account__name")) == [("Wang", "Acme")]
    assert "acme" in Contact.objects.get().search_text


def test_renaming_an_account_by_import_reindexes_its_contacts(admin_user, tmp_path):
    account = services.account_create(actor=admin_user, data={"name": "Old Name", "external_id": "R1"})
    contact = services.contact_create(actor=admin_user, data={"full_name": "Zhao", "account_id": account.pk})
    import_accounts(admin_user, write_csv(tmp_path / "r.csv", [["external_id", "name"], ["R1", "New Name"]]))
    contact.refresh_from_db()
    assert "new name" in contact.search_text and "old" not in contact.search_text


def test_marketers_may_import_contacts_but_not_accounts(make_user, tmp_path):
    marketer = make_user("marketer", Role.MARKETER)
    path = write_csv(tmp_path / "a.csv", [["name"], ["Acme"]])
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        import_accounts(marketer, path)
    # and a contact file naming an unknown company is refused for them instead of creating the account
    contacts = write_csv(tmp_path / "c.csv", [["full_name", "company"], ["Wang", "Unknown Co"]])
    result = importing.import_file(actor=marketer, path=contacts, object_type="contact")
    assert [(issue.row, issue.column) for issue in result.errors] == [(2, "company")]
    assert Account.objects.count() == 0 and Contact.objects.count() == 0


def test_required_account_custom_field(admin_user, tmp_path):
    services.custom_field_create(actor=admin_user, data={"target": "account", "key": "tax_id", "label": "Tax ID",
                                                         "field_type": "text", "required": True})
    result = import_accounts(admin_user, write_csv(tmp_path / "a.csv", [["name", "Tax ID"], ["With", "91110000"],
                                                                        ["Without", ""]]))
    assert [(issue.row, issue.column) for issue in result.errors] == [(3, "Tax ID")]
    result = import_accounts(admin_user, write_csv(tmp_path / "b.csv", [["name", "Tax ID"], ["With", "91110000"]]))
    assert Account.objects.get().custom_data == {"tax_id": "91110000"}
    assert Account.objects.get().created_at <= datetime.datetime.now(datetime.timezone.utc)
