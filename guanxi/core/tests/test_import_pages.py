"""The import and export web pages: upload → mapping → dry-run report → background import,
export downloads, and who may use them."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from guanxi.core import importing, services
from guanxi.core.models import AuditLog, Contact, ImportRun, ImportRunState, Role, Team
from guanxi.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    """Uploads and exports go under the data directory; keep them in the test's folder."""
    settings.DATA_DIR = tmp_path


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client, content: str, name: str = "客户.csv", object_type: str = "contact"):
    file = SimpleUploadedFile(name, content.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("core:import_start"), {"object_type": object_type, "file": file, "encoding": ""})


def mapping_post(run: ImportRun, **changes) -> dict:
    """The mapping form as shown: one select per column, in the file's column order."""
    headers = importing.import_run_preview(run).headers
    data = {f"column_{position}": run.mapping[header] for position, header in enumerate(headers)}
    data.update(changes)
    return data


GOOD_AND_BAD = "姓名,手机,邮箱,备注\n王芳,138 1234 5678,wang@example.com,x\n李雷,12,li@example.com,y\n"


def test_upload_map_check_and_import_skipping_the_bad_row(admin_user):
    client = signed_in(admin_user)
    # given the upload page
    page = client.get(reverse("core:import_start"), {"object": "contact"})
    assert page.status_code == 200 and 'type="file"' in page.content.decode()
    # when a file is uploaded, it goes to the mapping step with the guesses preselected
    response = upload(client, GOOD_AND_BAD)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("core:import_mapping", args=[run.pk])
    assert run.mapping == {"姓名": "full_name", "手机": "phone", "邮箱": "email", "备注": ""}
    html = client.get(response.url).content.decode()
    assert '<option value="phone" selected>' in html and "138 1234 5678" in html
    # when the mapping is confirmed, the dry run runs as a job and reports the bad row
    response = client.post(reverse("core:import_mapping", args=[run.pk]), mapping_post(run))
    assert response.status_code == 302 and response.url == reverse("core:import_detail", args=[run.pk])
    run.refresh_from_db()
    assert run.state == ImportRunState.INVALID and Contact.objects.count() == 0
    report = client.get(response.url).content.decode()
    assert "<td>客户.csv</td><td>3</td><td>手机</td><td>“12” is not a valid phone number.</td>" in report
    assert reverse("jobs:detail", args=[run.job_id]) in report
    # when the import is started skipping bad rows, the job imports the good one
    uploaded = Path(run.stored_path)
    assert uploaded.is_file()
    response = client.post(reverse("core:import_run", args=[run.pk]), {"mode": "skip_invalid"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.state, run.created_count, run.error_count) == (ImportRunState.SUCCEEDED, 1, 1)
    assert list(Contact.objects.values_list("full_name", "phone")) == [("王芳", "+8613812345678")]
    job = Job.objects.get(pk=run.job_id)
    assert job.kind == "core.import" and job.state == JobState.SUCCEEDED and job.result["created"] == 1
    assert run.stored_path == "" and not uploaded.exists()  # the uploaded customer data is not kept


def test_all_or_nothing_import_of_a_bad_file_writes_nothing_and_fails_the_job(admin_user):
    client = signed_in(admin_user)
    upload(client, GOOD_AND_BAD)
    run = ImportRun.objects.get()
    client.post(reverse("core:import_mapping", args=[run.pk]), mapping_post(run))
    client.post(reverse("core:import_run", args=[run.pk]), {"mode": "all_or_nothing"})
    run.refresh_from_db()
    job = Job.objects.filter(kind="core.import").order_by("-id").first()
    assert run.state == ImportRunState.INVALID and job.state == JobState.FAILED
    assert Contact.objects.count() == 0


def test_a_clean_file_is_imported_all_or_nothing(admin_user):
    client = signed_in(admin_user)
    upload(client, "Name,Mobile\nZhao Min,13812345678\nQian Li,13912345678\n", name="clean.csv")
    run = ImportRun.objects.get()
    client.post(reverse("core:import_mapping", args=[run.pk]), mapping_post(run))
    run.refresh_from_db()
    assert run.state == ImportRunState.CHECKED and run.options["would_create"] == 2
    client.post(reverse("core:import_run", args=[run.pk]), {"mode": "all_or_nothing"})
    run.refresh_from_db()
    assert run.state == ImportRunState.SUCCEEDED and Contact.objects.count() == 2
    assert AuditLog.objects.filter(action="import", object_id=str(run.pk)).count() == 1


def test_a_mapping_that_cannot_work_is_refused_with_the_column_named(admin_user):
    client = signed_in(admin_user)
    upload(client, GOOD_AND_BAD)
    run = ImportRun.objects.get()
    response = client.post(reverse("core:import_mapping", args=[run.pk]),
                           mapping_post(run, column_3="phone"))  # 备注 → phone as well as 手机
    assert response.status_code == 400
    assert "both map to “phone”" in response.content.decode()
    run.refresh_from_db()
    assert run.mapping["备注"] == "" and run.job_id is None


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.pdf", "%PDF-1.4", "Upload a CSV or XLSX file."),
    ("empty.csv", "", "The submitted file is empty."),
    ("blank.csv", "\n\n", "The file is empty: no header row."),
])
def test_unusable_uploads_are_refused(admin_user, name, content, message):
    client = signed_in(admin_user)
    file = SimpleUploadedFile(name, content.encode(), content_type="application/octet-stream")
    response = client.post(reverse("core:import_start"), {"object_type": "contact", "file": file})
    assert response.status_code == 400 and message in response.content.decode()
    assert ImportRun.objects.count() == 0


def test_only_roles_with_the_import_or_export_right_get_in(make_user):
    rep = signed_in(make_user("rep", Role.SALES_REP))
    for url in (reverse("core:import_start"), reverse("core:export")):
        assert rep.get(url).status_code == 403
    marketer = signed_in(make_user("marketer", Role.MARKETER))
    assert marketer.get(reverse("core:import_start"), {"object": "contact"}).status_code == 200
    assert marketer.get(reverse("core:import_start"), {"object": "account"}).status_code == 403
    response = upload(marketer, "Name\nA\n", object_type="account")
    assert response.status_code == 403 and ImportRun.objects.count() == 0


def test_another_users_import_is_not_found(admin_user, make_user):
    upload(signed_in(admin_user), GOOD_AND_BAD)
    run = ImportRun.objects.get()
    manager = signed_in(make_user("manager", Role.SALES_MANAGER))
    for name in ("core:import_detail", "core:import_mapping"):
        assert manager.get(reverse(name, args=[run.pk])).status_code == 404
    assert manager.post(reverse("core:import_run", args=[run.pk]), {"mode": "skip_invalid"}).status_code == 404


def test_csv_export_streams_what_the_user_may_export(admin_user, make_user):
    team = Team.objects.create(name="East")
    manager = make_user("manager", Role.SALES_MANAGER, team=team)
    services.contact_create(actor=manager, data={"full_name": "Team contact", "phone": "13812345678"})
    services.contact_create(actor=admin_user, data={"full_name": "Someone else's"})
    response = signed_in(manager).get(reverse("core:export"), {"object": "contact", "format": "csv", "download": "1"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="guanxi-contacts-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffexternal_id,full_name,")
    assert "Team contact" in text and "Someone else" not in text
    assert AuditLog.objects.get(action="export").changes["count"] == 1


def test_export_page_shows_the_filters_and_refuses_bad_ones(admin_user):
    client = signed_in(admin_user)
    page = client.get(reverse("core:export"), {"object": "contact"})
    assert page.status_code == 200 and 'name="lifecycle_stage"' in page.content.decode()
    bad = client.get(reverse("core:export"), {"object": "contact", "format": "csv", "download": "1",
                                              "cf_unknown": "x"})
    assert bad.status_code == 400 and not AuditLog.objects.filter(action="export").exists()


def test_xlsx_export_is_prepared_by_a_job_and_downloaded_by_its_owner(admin_user, make_user):
    services.contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13812345678"})
    client = signed_in(admin_user)
    response = client.get(reverse("core:export"), {"object": "contact", "format": "xlsx", "download": "1"})
    job = Job.objects.get(kind="core.export")
    assert response.status_code == 302 and response.url == reverse("core:export_detail", args=[job.pk])
    assert job.state == JobState.SUCCEEDED and job.result["count"] == 1
    assert reverse("core:export_download", args=[job.pk]) in client.get(response.url).content.decode()
    download = client.get(reverse("core:export_download", args=[job.pk]))
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert rows[1][rows[0].index("full_name")] == "王芳"
    other = signed_in(make_user("other_admin", Role.ADMIN))
    assert other.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_starting_an_import_needs_a_mode_and_a_checked_file(admin_user):
    client = signed_in(admin_user)
    upload(client, "Name,Mobile\nZhao Min,13812345678\n", name="one.csv")
    run = ImportRun.objects.get()
    # before the check the run cannot start
    response = client.post(reverse("core:import_run", args=[run.pk]), {"mode": "all_or_nothing"})
    assert response.status_code == 409 and "cannot be started now" in response.content.decode()
    client.post(reverse("core:import_mapping", args=[run.pk]), mapping_post(run))
    # an unknown mode is refused with the field named
    response = client.post(reverse("core:import_run", args=[run.pk]), {"mode": "everything"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert Contact.objects.count() == 0 and not Job.objects.filter(params__dry_run=False).exists()
