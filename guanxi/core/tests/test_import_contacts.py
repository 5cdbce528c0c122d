"""Importing contacts from CSV and XLSX: normalization, dedup keys, upsert by external ID,
the validation report (file / row / column), dry run, skip-invalid, and the command line."""

from __future__ import annotations

import csv
import datetime
import io
import json
import random
import unicodedata

import openpyxl
import phonenumbers
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import connection

from guanxi.core import importing, selectors, services
from guanxi.core.models import (
    Account, Address, AuditLog, ConsentRecord, Contact, ContactEmail, ContactPhone, ImportRun,
    ImportRunState, Role, Team, Territory,
)
from guanxi.core.normalize import _PLAIN_EMAIL, _mainland_mobile, is_cjk, normalize_phone, search_text

pytestmark = pytest.mark.django_db


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def run_import(admin, path, **options):
    return importing.import_file(actor=admin, path=path, object_type="contact", **options)


def cli(*arguments):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_data", *arguments, "--no-progress", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def raw_row(table, record_id, skip=("id", "created_at", "updated_at")):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [record_id])
        names = [column[0] for column in cursor.description]
        values = cursor.fetchone()
    return {name: value for name, value in zip(names, values) if name not in skip}


# ======================================================================================
# Normalization and storage
# ======================================================================================
def test_chinese_headers_are_mapped_and_values_normalized_like_the_services(admin_user, tmp_path):
    # given a file with Chinese headers, local phone formats and mixed-case emails
    path = write_csv(tmp_path / "客户.csv", [
        ["姓名", "手机", "邮箱", "公司", "外部编号", "性别", "生日", "标签", "邮件同意"],
        ["王芳", "138 1234 5678", "Wang.Fang@Example.COM", "华夏科技", "C-1", "女", "1990/5/6", "VIP；北京", "是"],
        ["John Smith", "+1 (415) 555-0100", "john@example.com", "华夏科技", "C-2", "M", "1985-03-04", "", "否"],
    ])
    # when it is imported
    result = run_import(admin_user, path)
    # then both rows are stored normalized, with their phones, emails, tags and consent
    assert (result.created, result.updated, result.error_rows) == (2, 0, 0)
    wang = Contact.objects.get(external_id="C-1")
    assert (wang.full_name, wang.phone, wang.email) == ("王芳", "+8613812345678", "wang.fang@example.com")
    assert (wang.gender, wang.birth_date, wang.consent_email) == ("female", datetime.date(1990, 5, 6), True)
    assert sorted(wang.tags.values_list("name", flat=True)) == ["VIP", "北京"]
    assert list(ContactPhone.objects.filter(contact=wang).values_list("number", "kind", "is_primary")) == [
        ("+8613812345678", "mobile", True)]
    assert list(ContactEmail.objects.filter(contact=wang).values_list("email", "is_primary")) == [
        ("wang.fang@example.com", True)]
    assert list(ConsentRecord.objects.filter(contact=wang).values_list("channel", "granted", "source")) == [
        ("email", True, "import")]
    assert wang.search_text == services.contact_search_text(wang)
    # and the company named in the file became one account shared by both
    assert Account.objects.filter(name="华夏科技").count() == 1
    assert set(Contact.objects.values_list("account__name", flat=True)) == {"华夏科技"}
    # and search finds the contact by the phone written another way (the FTS index kept in step)
    assert [c.pk for c in selectors.global_search(admin_user, "+86 138-1234-5678").contacts] == [wang.pk]
    assert [c.pk for c in selectors.global_search(admin_user, "芳").contacts] == [wang.pk]
    # and the run is audited once, with its counts
    entries = AuditLog.objects.filter(action="import")
    assert entries.count() == 1
    assert entries.get().changes["created"] == 2 and entries.get().object_type == "contact"
    assert AuditLog.objects.filter(action="create", object_type="contact").count() == 0


def test_bulk_path_stores_exactly_what_contact_create_stores(admin_user, make_user, tmp_path):
    # given everything a contact row can carry: custom fields, owner, territory, account, address…
    territory = Territory.objects.create(code="cn-north", name="North China")
    team = Team.objects.create(name="Beijing")
    owner = make_user("owner1", Role.SALES_REP, team=team, territory=territory)
    acme = services.account_create(actor=admin_user, data={"name": "Acme 北京", "external_id": "A1"})
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "size", "label": "Size",
                                                         "field_type": "choice", "choices": ["S", "M", "L"]})
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "vip", "label": "VIP",
                                                         "field_type": "boolean"})
    data = {
        "external_id": "C-9", "family_name": "王", "given_name": "芳", "alternate_name": "Wang Fang",
        "job_title": "经理", "phone": "138 1234 5678", "phones": [{"number": "010-6512 3456", "kind": "work"}],
        "email": "Wang.Fang@Example.COM", "emails": ["fang@home.cn"], "account_id": acme.pk,
        "birth_date": datetime.date(1990, 5, 6), "gender": "female", "income_band": "middle",
        "occupation": "教师", "education": "master", "marital_status": "married", "household_size": 3,
        "interests": ["reading", "travel"], "preferred_channel": "sms", "preferred_language": "en",
        "consent_email": True, "consent_sms": True, "consent_phone": False, "consent_mail": False,
        "do_not_contact": False, "lifecycle_stage": "active", "value_tier": "gold",
        "relationship_stage": "cooperative", "industry": "教育", "tags": ["vip", "北京"], "owner_id": owner.pk,
        "territory_id": territory.pk, "custom_data": {"size": "L", "vip": True}, "consent_source": "import",
        "addresses": [{"province": "北京市", "city": "北京", "district": "朝阳区", "street": "建国路 88 号",
                       "postcode": "100022", "is_primary": True}],
    }
    header_and_row = [
        ("external_id", "C-9"), ("family_name", "王"), ("given_name", "芳"), ("alternate_name", "Wang Fang"),
        ("job_title", "经理"), ("phone", "138 1234 5678"), ("work_phone", "010-6512 3456"),
        ("email", "Wang.Fang@Example.COM"), ("emails", "fang@home.cn"), ("account_external_id", "A1"),
        ("birth_date", "1990-05-06"), ("gender", "female"), ("income_band", "Middle"), ("occupation", "教师"),
        ("education", "master"), ("marital_status", "married"), ("household_size", "3"),
        ("interests", "reading; travel"), ("preferred_channel", "SMS"), ("preferred_language", "en"),
        ("consent_email", "yes"), ("consent_sms", "1"), ("consent_phone", "no"), ("consent_mail", "false"),
        ("do_not_contact", "no"), ("lifecycle_stage", "active"), ("value_tier", "gold"),
        ("relationship_stage", "cooperative"), ("industry", "教育"), ("tags", "vip; 北京"), ("owner", "owner1"),
        ("territory", "cn-north"), ("province", "北京市"), ("city", "北京"), ("district", "朝阳区"),
        ("street", "建国路 88 号"), ("postcode", "100022"), ("cf_size", "L"), ("cf_vip", "yes"),
    ]
    path = write_csv(tmp_path / "one.csv", [[name for name, _v in header_and_row], [v for _n, v in header_and_row]])

    def stored(contact_id):
        return {
            "contact": raw_row("core_contact", contact_id),
            "phones": sorted(ContactPhone.objects.filter(contact_id=contact_id).values_list("number", "kind",
                                                                                          "is_primary")),
            "emails": sorted(ContactEmail.objects.filter(contact_id=contact_id).values_list("email", "kind",
                                                                                          "is_primary")),
            "consent": sorted(ConsentRecord.objects.filter(contact_id=contact_id).values_list(
                "channel", "granted", "source", "recorded_by_id")),
            "tags": sorted(Contact.objects.get(pk=contact_id).tags.values_list("name", flat=True)),
            "addresses": [raw_row("core_address", address_id, skip=("id", "contact_id"))
                          for address_id in Address.objects.filter(contact_id=contact_id).values_list("id",
                                                                                                     flat=True)],
        }

    # given the contact as services.contact_create stores it
    by_service = stored(services.contact_create(actor=admin_user, data=data).pk)
    Contact.objects.all().delete()
    # when the same input is imported
    result = run_import(admin_user, path)
    # then the import stored exactly the same, byte for byte
    assert result.created == 1 and result.error_rows == 0
    by_import = stored(Contact.objects.get(external_id="C-9").pk)
    assert by_import == by_service
    assert by_import["contact"]["search_text"] == "王 芳 wang fang wang fang example com 8613812345678 acme 北 京 c 9"


def test_mainland_mobile_shortcut_gives_what_phonenumbers_gives():
    # given many numbers in assorted local and international formats
    generator = random.Random(86)

    def by_phonenumbers(text, region):
        text = text.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    shortcut_taken = 0
    for _attempt in range(20000):
        digits = "1" + "".join(generator.choice("0123456789") for _ in range(10))
        body = "".join(digit + (generator.choice(["", " ", "-", ".", "(", ")"]) if generator.random() < 0.2 else "")
                       for digit in digits)
        text = generator.choice(["", "+86", "+86 ", "0086 ", "0", "(+86) ", "86", "+1 "]) + body
        region = generator.choice(["CN", "CN", "US"])
        # when the shortcut answers, it answers what phonenumbers answers
        compact = text.strip()
        compact = "+" + compact[2:] if compact.startswith("00") else compact
        fast = _mainland_mobile(compact, region)
        if fast is not None:
            shortcut_taken += 1
            assert fast == by_phonenumbers(text, region), text
    assert shortcut_taken > 3000
    # and invalid numbers still fail through the full path
    for bad in ("12", "110 1234 5678", "+86 12345"):
        with pytest.raises(ValueError):
            normalize_phone(bad)


def test_plain_email_shortcut_accepts_only_what_django_accepts():
    generator = random.Random(7)
    for _attempt in range(20000):
        local = "".join(generator.choice("abz09._%+-") for _ in range(generator.randint(1, 8)))
        domain = generator.choice(["example.com", "a-b.cn", "x.y.org", "-a.com", "a-.com", "com", "a..b.cn"])
        address = f"{local}@{domain}"
        if _PLAIN_EMAIL.fullmatch(address):
            validate_email(address)  # never raises for what the shortcut accepts


def test_search_text_equals_the_character_by_character_reference():
    # the reference is the per-character tokenizer the compiled pattern replaced
    def reference(*parts):
        tokens = []
        for part in parts:
            if not part:
                continue
            word = []
            for character in unicodedata.normalize("NFKC", part).lower():
                if is_cjk(character):
                    if word:
                        tokens.append("".join(word))
                        word = []
                    tokens.append(character)
                elif character.isalnum():
                    word.append(character)
                elif word:
                    tokens.append("".join(word))
                    word = []
            if word:
                tokens.append("".join(word))
        return " ".join(tokens)

    generator = random.Random(3)
    pool = [chr(code) for code in [*range(32, 0x250), *range(0x300, 0x320), *range(0x3000, 0x3100),
                                   *range(0x4E00, 0x4E40), *range(0xFF00, 0xFF60), 0x20001, 0xAC00, 0x2460, 0x5F]]
    for _attempt in range(5000):
        parts = ["".join(generator.choice(pool) for _ in range(generator.randint(0, 8)))
                 for _ in range(generator.randint(0, 4))]
        assert search_text(*parts) == reference(*parts), parts


# ======================================================================================
# Dedup keys and upserts
# ======================================================================================
def test_row_without_external_id_updates_the_contact_with_that_phone_instead_of_duplicating(admin_user, tmp_path):
    # given a contact entered by hand
    existing = services.contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13812345678"})
    # when a file lists the same phone written differently, and another row the same email as a third contact
    other = services.contact_create(actor=admin_user, data={"full_name": "李雷", "email": "li.lei@example.com"})
    path = write_csv(tmp_path / "dedup.csv", [["Name", "Mobile", "Email", "Title"],
                                              ["王芳", "+86 138-1234-5678", "", "经理"],
                                              ["Li Lei", "", "LI.LEI@example.com", "CTO"]])
    result = run_import(admin_user, path)
    # then no contact was created and both were updated
    assert (result.created, result.updated) == (0, 2)
    assert Contact.objects.count() == 2
    existing.refresh_from_db()
    other.refresh_from_db()
    assert (existing.job_title, existing.version) == ("经理", 2)
    assert (other.job_title, other.full_name) == ("CTO", "Li Lei")
    notes = [issue.message for issue in result.issues if issue.level == "note"]
    assert f"Matched existing contact #{existing.pk} by phone; updated it." in notes
    assert f"Matched existing contact #{other.pk} by email; updated it." in notes


def test_external_id_upserts_and_an_unchanged_row_changes_nothing(admin_user, tmp_path):
    path = write_csv(tmp_path / "v1.csv", [["external_id", "full_name", "phone", "lifecycle_stage"],
                                           ["X1", "Zhang San", "13900000001", "new"],
                                           ["X2", "Li Si", "13900000002", "new"]])
    run_import(admin_user, path)
    first = Contact.objects.get(external_id="X1")
    # when the same file comes again, and then a changed one
    again = run_import(admin_user, path)
    changed = run_import(admin_user, write_csv(tmp_path / "v2.csv", [
        ["external_id", "full_name", "phone", "lifecycle_stage"],
        ["X1", "Zhang San", "13900000009", "active"]]))
    # then the first re-import changed nothing and the second updated in place
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (changed.created, changed.updated) == (0, 1)
    first.refresh_from_db()
    assert (first.lifecycle_stage, first.phone, first.version) == ("active", "+8613900000009", 2)
    assert list(ContactPhone.objects.filter(contact=first).order_by("number").values_list("number", "is_primary")) \
        == [("+8613900000001", False), ("+8613900000009", True)]
    assert Contact.objects.count() == 2


def test_lookups_split_into_small_batches_still_find_every_existing_contact(admin_user, tmp_path, monkeypatch):
    rows = [["external_id", "full_name", "phone", "email"]]
    rows += [[f"K{number}", f"客户{number}", f"1390000{number:04d}", f"k{number}@example.com"] for number in range(7)]
    run_import(admin_user, write_csv(tmp_path / "first.csv", rows))
    # when PostgreSQL looks keys up two at a time and the contacts come back by phone and email alone
    monkeypatch.setattr(importing, "POSTGRES_LOOKUP_BATCH", 2)
    again = run_import(admin_user, write_csv(tmp_path / "again.csv", [row[1:] for row in rows]))
    # then every row found its contact: nothing created, nothing changed
    assert (again.created, again.updated, again.unchanged, again.error_rows) == (0, 0, 7, 0)
    assert Contact.objects.count() == 7


def test_rows_repeating_a_phone_within_the_file_become_one_contact(admin_user, tmp_path):
    path = write_csv(tmp_path / "twice.csv", [["姓名", "手机", "职位"],
                                              ["王芳", "13812345678", "经理"],
                                              ["王芳", "138 1234 5678", "总监"]])
    result = run_import(admin_user, path, chunk_size=10)
    assert (result.created, result.updated) == (1, 1)
    assert list(Contact.objects.values_list("full_name", "job_title")) == [("王芳", "总监")]


# ======================================================================================
# The validation report
# ======================================================================================
def test_bad_cells_are_reported_by_file_row_and_column_and_nothing_is_written(admin_user, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["姓名", "手机", "邮箱", "生日", "生命周期"],
        ["好人", "13812345678", "good@example.com", "1990-01-01", "active"],
        ["坏电话", "12", "ok@example.com", "", ""],
        ["坏邮箱", "", "not-an-email", "", ""],
        ["坏日期", "", "", "1990-13-45", ""],
        ["坏选项", "", "", "", "sleeping"],
    ])
    result = run_import(admin_user, path)
    located = {(issue.file, issue.row, issue.column) for issue in result.errors}
    assert located == {("bad.csv", 3, "手机"), ("bad.csv", 4, "邮箱"), ("bad.csv", 5, "生日"), ("bad.csv", 6, "生命周期")}
    assert any("not a valid phone number" in issue.message for issue in result.errors)
    assert not result.written and result.run.state == ImportRunState.INVALID
    assert Contact.objects.count() == 0 and Account.objects.count() == 0
    assert not AuditLog.objects.filter(action="import").exists()


def test_cli_exits_non_zero_with_the_report_and_writes_it_as_csv(admin_user, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [["Name", "Phone"], ["Good", "13812345678"], ["Bad", "12"]])
    report = tmp_path / "report.csv"
    status, _out, err = cli("contacts", str(path), "--report", str(report))
    assert status == 1
    assert "bad.csv, row 3, column “Phone”: “12” is not a valid phone number." in err
    with open(report, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["file"], row["row"], row["column"], row["level"]) for row in rows if row["level"] == "error"] == [
        ("bad.csv", "3", "Phone", "error")]
    assert Contact.objects.count() == 0


def test_missing_required_column_names_the_column_and_imports_nothing(admin_user, tmp_path):
    path = write_csv(tmp_path / "noname.csv", [["Phone", "Email"], ["13812345678", "a@example.com"]])
    with pytest.raises(importing.ImportFileError) as refused:
        run_import(admin_user, path)
    assert [(issue.row, issue.column) for issue in refused.value.issues] == [(1, "Full name")]
    assert "Required column missing" in refused.value.issues[0].message
    status, _out, err = cli("contacts", str(path))
    assert status == 1 and "Required column missing" in err
    assert Contact.objects.count() == 0


def test_duplicate_external_id_in_the_file_names_both_rows(admin_user, tmp_path):
    path = write_csv(tmp_path / "dup.csv", [["external_id", "full_name"], ["E1", "A"], ["E2", "B"], ["E1", "C"]])
    result = run_import(admin_user, path)
    (issue,) = result.errors
    assert (issue.row, issue.column) == (4, "external_id")
    assert "also on row 2" in issue.message
    assert Contact.objects.count() == 0


def test_unknown_custom_field_column_is_refused(admin_user, tmp_path):
    path = write_csv(tmp_path / "cf.csv", [["full_name", "cf_shoe_size"], ["A", "42"]])
    with pytest.raises(importing.ImportFileError) as refused:
        run_import(admin_user, path)
    assert refused.value.issues[0].column == "cf_shoe_size"
    assert "Unknown custom field “shoe_size”" in refused.value.issues[0].message
    # and a defined one is validated per cell
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "shoe_size",
                                                         "label": "Shoe size", "field_type": "integer"})
    bad = run_import(admin_user, write_csv(tmp_path / "cf2.csv", [["full_name", "Shoe size"], ["A", "big"]]))
    assert [(issue.row, issue.column, issue.message) for issue in bad.errors] == [(2, "Shoe size",
                                                                                  "Enter a whole number.")]


def test_skip_invalid_imports_the_good_rows_and_reports_the_bad(admin_user, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [["Name", "Phone"], ["Good", "13812345678"], ["Bad", "12"],
                                              ["Also good", "13912345678"]])
    status, out, err = cli("contacts", str(path), "--skip-invalid")
    assert status == 2
    assert "2 created" in out and "1 refused" in out
    assert "row 3" in err
    assert sorted(Contact.objects.values_list("full_name", flat=True)) == ["Also good", "Good"]


def test_dry_run_checks_and_counts_but_writes_nothing(admin_user, tmp_path):
    services.contact_create(actor=admin_user, data={"full_name": "Old", "phone": "13812345678"})
    path = write_csv(tmp_path / "dry.csv", [["Name", "Phone"], ["Old", "138 1234 5678"], ["New", "13912345678"]])
    status, out, _err = cli("contacts", str(path), "--dry-run")
    assert status == 0
    assert "1 would be created, 1 updated" in out
    assert Contact.objects.count() == 1
    assert ImportRun.objects.get().state == ImportRunState.CHECKED


# ======================================================================================
# Files, encodings, mappings
# ======================================================================================
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(admin_user, tmp_path, encoding):
    path = write_csv(tmp_path / f"{encoding}.csv", [["姓名", "手机", "公司"], ["张伟", "13812345678", "北京华夏"]],
                     encoding=encoding)
    result = run_import(admin_user, path)
    assert result.created == 1
    assert Contact.objects.get().full_name == "张伟" and Contact.objects.get().account.name == "北京华夏"


def test_xlsx_with_numeric_phones_and_date_cells(admin_user, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机", "生日", "外部编号"])
    sheet.append(["赵敏", 13812345678, datetime.datetime(1992, 7, 8), 1001])
    workbook.save(tmp_path / "people.xlsx")
    result = run_import(admin_user, tmp_path / "people.xlsx")
    contact = Contact.objects.get()
    assert result.created == 1
    assert (contact.phone, contact.birth_date, contact.external_id) == ("+8613812345678",
                                                                         datetime.date(1992, 7, 8), "1001")


def test_mapping_overrides_from_the_command_line_and_a_json_file(admin_user, tmp_path):
    path = write_csv(tmp_path / "odd.csv", [["Kunde", "Handy", "Notiz"], ["Wang Fang", "13812345678", "x"]])
    # without a mapping the file has no name column
    with pytest.raises(importing.ImportFileError):
        run_import(admin_user, path)
    status, out, err = cli("contacts", str(path), "--map", "Kunde=full_name,Handy=phone,Notiz=-")
    assert status == 0 and "1 created" in out
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"Kunde": "full_name", "Handy": "phone", "Notiz": "job_title"}))
    status, out, _err = cli("contacts", str(path), "--map", str(mapping_file))
    assert status == 0 and "1 updated" in out
    assert Contact.objects.get().job_title == "x"
    # and a mapping naming an unknown field is refused
    status, _out, err = cli("contacts", str(path), "--map", "Kunde=nickname")
    assert status == 1 and "Unknown field “nickname”" in err


def test_unknown_columns_are_reported_not_imported(admin_user, tmp_path):
    path = write_csv(tmp_path / "extra.csv", [["Name", "Shoe"], ["A", "42"]])
    result = run_import(admin_user, path)
    assert [(issue.row, issue.column, issue.level) for issue in result.issues] == [(1, "Shoe", "warning")]
    assert result.created == 1


# ======================================================================================
# Who may import what
# ======================================================================================
def test_roles_without_the_import_right_are_refused(make_user, tmp_path):
    rep = make_user("rep", Role.SALES_REP)
    path = write_csv(tmp_path / "a.csv", [["Name"], ["A"]])
    with pytest.raises(PermissionDenied):
        importing.import_file(actor=rep, path=path, object_type="contact")
    status, _out, err = cli("contacts", str(path), "--user", "rep")
    assert status == 1
    assert Contact.objects.count() == 0


def test_a_match_the_importer_may_not_change_is_an_error(make_user, tmp_path):
    manager = make_user("manager", Role.SALES_MANAGER, team=Team.objects.create(name="East"))
    stranger = make_user("stranger", Role.SALES_REP)
    theirs = services.contact_create(actor=stranger, data={"full_name": "Theirs", "phone": "13812345678"})
    path = write_csv(tmp_path / "a.csv", [["Name", "Phone"], ["Mine now", "13812345678"]])
    result = importing.import_file(actor=manager, path=path, object_type="contact")
    assert [(issue.row, issue.column) for issue in result.errors] == [(2, "Phone")]
    assert f"contact #{theirs.pk}, which you may not change" in result.errors[0].message
    theirs.refresh_from_db()
    assert theirs.full_name == "Theirs"


def test_contact_create_and_import_refuse_the_same_bad_input(admin_user, tmp_path):
    with pytest.raises(ValidationError):
        services.contact_create(actor=admin_user, data={"full_name": "X", "phone": "12"})
    result = run_import(admin_user, write_csv(tmp_path / "x.csv", [["full_name", "phone"], ["X", "12"]]))
    assert result.error_rows == 1 and Contact.objects.count() == 0
