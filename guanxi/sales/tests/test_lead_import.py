"""Lead import from CSV/XLSX through the API and `guanxi import-leads`: columns found by
English or Chinese names, all or nothing with row and column of each problem, dry run,
upsert by external ID."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.core.models import AuditLog
from guanxi.sales.models import Lead, LeadSource

pytestmark = pytest.mark.django_db

GOOD = ("外部编号,姓名,公司,手机,邮箱,城市,备注\n"
        "L-1,王芳,星河物流,138 0013 8000,wang@xinghe.example,上海,要报价\n"
        "L-2,Anna Schmidt,Contoso GmbH,+49 89 1234567,anna@contoso.example,Munich,\n")


def upload(client, text: str, name: str = "leads.csv", **form):
    return client.post("/api/v1/sales/leads/import",
                       {"file": SimpleUploadedFile(name, text.encode("utf-8")), **form})


def test_a_good_file_imports_every_row(api_client, admin_user):
    response = upload(api_client, GOOD, campaign="Trade fair")
    assert response.status_code == 200, response.content
    assert response.json() == {"rows": 2, "created": 2, "updated": 0, "dry_run": False, "issues": []}
    wang = Lead.objects.get(external_id="L-1")
    assert (wang.full_name, wang.phone, wang.company, wang.city) == ("王芳", "+8613800138000", "星河物流", "上海")
    assert (wang.source, wang.campaign_name, wang.description) == (LeadSource.IMPORT, "Trade fair", "要报价")
    assert AuditLog.objects.filter(action="import", object_type="lead").count() == 1


def test_one_bad_row_imports_nothing_and_names_row_and_column(api_client):
    bad = GOOD + "L-3,李雷,,12345,,北京,\n"
    response = upload(api_client, bad)
    assert response.status_code == 422
    issues = response.json()["issues"]
    assert [(issue["row"], issue["column"]) for issue in issues] == [(4, "手机")]
    assert issues[0]["value"] == "12345"
    assert not Lead.objects.exists()


def test_a_dry_run_keeps_nothing(api_client):
    response = upload(api_client, GOOD, dry_run="true")
    assert response.status_code == 200 and response.json()["created"] == 2 and response.json()["dry_run"]
    assert not Lead.objects.exists()


def test_rows_with_a_known_external_id_update_the_lead(api_client):
    upload(api_client, GOOD)
    response = upload(api_client, "external id,name,email,company\nL-1,王芳,wang@xinghe.example,星河物流集团\n")
    assert response.json()["updated"] == 1 and response.json()["created"] == 0
    assert Lead.objects.get(external_id="L-1").company == "星河物流集团"
    assert Lead.objects.count() == 2


def test_a_file_without_a_name_or_contact_column_is_refused(api_client):
    response = upload(api_client, "company,city\nContoso,Munich\n")
    assert response.status_code == 422
    assert len(response.json()["issues"]) == 2 and response.json()["issues"][0]["row"] == 1
    assert not Lead.objects.exists()


def test_xlsx_files_import_too(api_client):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Full name", "Email", "Estimated amount"])
    sheet.append(["Zhou Jie", "zhou@x.example", 120000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = api_client.post("/api/v1/sales/leads/import", {"file": SimpleUploadedFile("leads.xlsx",
                                                                                          buffer.getvalue())})
    assert response.status_code == 200, response.content
    assert str(Lead.objects.get().estimated_amount) == "120000.00"


def test_roles_without_import_are_refused(rep_client):
    response = upload(rep_client, GOOD)
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_the_command_line_import(tmp_path, admin_user):
    good = tmp_path / "leads.csv"
    good.write_text(GOOD, encoding="utf-8")
    call_command("import_leads", str(good), "--as", "admin", "--assign")
    assert Lead.objects.count() == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,邮箱\n赵,not-an-email\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_leads", str(bad), "--as", "admin")
    assert Lead.objects.count() == 2
