"""Crash in the middle of an import, then resume: no duplicates and no lost rows.

Each chunk commits together with the run's checkpoint, so a crash loses at most the
chunk in flight; resuming continues after the last committed chunk, and because writes
are upserts even replaying a committed chunk cannot duplicate anything.
"""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from guanxi.core import bulk_writes, importing, tasks
from guanxi.core.models import Contact, ContactEmail, ContactPhone, ImportRun, ImportRunState
from guanxi.jobs import services as job_services
from guanxi.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db
ROWS = 50
CHUNK = 10


class Crash(RuntimeError):
    """Stands in for a killed process."""


@pytest.fixture
def people_file(tmp_path):
    path = tmp_path / "people.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["外部编号", "姓名", "手机", "邮箱"])
        for number in range(ROWS):
            writer.writerow([f"P{number:03d}", f"客户{number}", f"139 0000 {number:04d}", f"p{number}@example.com"])
    return path


def assert_every_row_once(with_external_ids: bool = True):
    assert Contact.objects.count() == ROWS
    assert ContactPhone.objects.count() == ROWS and ContactEmail.objects.count() == ROWS
    phones = set(ContactPhone.objects.values_list("number", flat=True))
    assert phones == {f"+86139{number:08d}" for number in range(ROWS)}
    for contact in Contact.objects.all():
        number = int(contact.phone[-4:])
        assert contact.full_name == f"客户{number}" and contact.email == f"p{number}@example.com"
        if with_external_ids:
            assert contact.external_id == f"P{number:03d}"


def crash_after_second_chunk(run, last_row):
    if last_row >= 1 + 2 * CHUNK:
        raise Crash("killed after chunk 2")


def test_crash_after_chunk_two_then_resume_imports_every_row_exactly_once(admin_user, people_file):
    # given an import that dies right after its second chunk committed
    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash_after_second_chunk)
    run = ImportRun.objects.get()
    assert (run.state, run.rows_done, run.created_count) == (ImportRunState.INTERRUPTED, 21, 20)
    assert Contact.objects.count() == 20
    # when the same file is imported again with resume
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   resume=True)
    # then the same run continued after row 21 and every row is there exactly once
    assert result.run.pk == run.pk
    run.refresh_from_db()
    assert (run.state, run.rows_done, run.created_count, run.updated_count) == (ImportRunState.SUCCEEDED, 51, 50, 0)
    assert_every_row_once()


def test_replaying_committed_chunks_cannot_duplicate(admin_user, people_file):
    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash_after_second_chunk)
    # given a checkpoint that lags what was committed (as if its write had been lost)
    ImportRun.objects.update(rows_done=1 + CHUNK)
    # when the run resumes from there, replaying chunk 2
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   resume=True)
    # then chunk 2 matched its own records instead of creating them again
    assert result.run.created_count == 20 + 30
    assert result.run.unchanged_count == CHUNK
    assert_every_row_once()


def test_rows_without_external_ids_resume_on_their_dedup_keys(admin_user, tmp_path):
    path = tmp_path / "no_ids.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "手机", "邮箱"])
        for number in range(ROWS):
            writer.writerow([f"客户{number}", f"+86 139-0000-{number:04d}", f"P{number}@Example.com"])
    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=path, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash_after_second_chunk)
    ImportRun.objects.update(rows_done=1)  # replay everything committed so far
    importing.import_file(actor=admin_user, path=path, object_type="contact", chunk_size=CHUNK, resume=True)
    assert_every_row_once(with_external_ids=False)


def test_crash_inside_a_chunk_rolls_the_whole_chunk_back(admin_user, people_file, monkeypatch):
    # given an import whose third chunk dies after writing its contacts but before their emails
    original = bulk_writes.insert_rows
    email_batches = []

    def dying_insert(model, columns, rows, **options):
        if model is ContactEmail:
            email_batches.append(len(rows))
            if len(email_batches) == 3:
                raise Crash("killed while writing chunk 3")
        return original(model, columns, rows, **options)

    monkeypatch.setattr(bulk_writes, "insert_rows", dying_insert)
    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    # then nothing of chunk 3 is stored: no contact without its email
    assert Contact.objects.count() == 20 and ContactEmail.objects.count() == 20
    assert ImportRun.objects.get().rows_done == 21
    # and resuming completes the import
    monkeypatch.setattr(bulk_writes, "insert_rows", original)
    importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK, resume=True)
    assert_every_row_once()


def test_cli_resume_continues_the_interrupted_run(admin_user, people_file, monkeypatch):
    original = bulk_writes.insert_rows
    calls = []

    def dying_insert(model, columns, rows, **options):
        if model is Contact:
            calls.append(1)
            if len(calls) == 2:
                raise Crash("killed")
        return original(model, columns, rows, **options)

    monkeypatch.setattr(bulk_writes, "insert_rows", dying_insert)
    with pytest.raises(Crash):
        call_command("import_data", "contacts", str(people_file), "--chunk-size", str(CHUNK), "--no-progress",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert Contact.objects.count() == CHUNK
    monkeypatch.setattr(bulk_writes, "insert_rows", original)
    out = io.StringIO()
    call_command("import_data", "contacts", str(people_file), "--resume", "--chunk-size", str(CHUNK),
                 "--no-progress", stdout=out, stderr=io.StringIO())
    assert "50 created" in out.getvalue()  # counts of the whole run, both sessions
    assert ImportRun.objects.count() == 1
    assert_every_row_once()


def test_import_job_rerun_after_a_crash_continues_from_its_checkpoint(admin_user, people_file, monkeypatch,
                                                                      settings, tmp_path):
    settings.DATA_DIR = tmp_path  # where the upload is kept
    # given an uploaded file and an import job whose worker dies in chunk 3
    with open(people_file, "rb") as handle:
        run = importing.import_run_create(actor=admin_user, object_type="contact", file_name="people.csv",
                                          chunks=iter([handle.read()]))
    original = bulk_writes.insert_rows
    calls = []

    def dying_insert(model, columns, rows, **options):
        if model is Contact:
            calls.append(1)
            if len(calls) == 3:
                raise Crash("worker killed")
        return original(model, columns, rows, **options)

    monkeypatch.setattr(bulk_writes, "insert_rows", dying_insert)
    job = job_services.job_enqueue(actor=admin_user, kind=tasks.IMPORT_JOB,
                                   params={"run_id": run.pk, "dry_run": False, "chunk_size": CHUNK})
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.state == JobState.QUEUED and "worker killed" in job.error  # waiting for its retry
    assert (run.state, run.rows_done, Contact.objects.count()) == (ImportRunState.INTERRUPTED, 21, 20)
    # when the job runs again
    monkeypatch.setattr(bulk_writes, "insert_rows", original)
    Job.objects.filter(pk=job.pk).update(run_at=timezone.now() - datetime.timedelta(seconds=1))
    job_services.jobs_run_due()
    # then it finished the same run without duplicates and dropped the uploaded file
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2
    assert (run.state, run.created_count, run.stored_path) == (ImportRunState.SUCCEEDED, 50, "")
    assert_every_row_once()


def test_a_changed_file_does_not_resume_a_run_of_the_old_one(admin_user, people_file):
    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash_after_second_chunk)
    run = ImportRun.objects.get()
    with open(people_file, "a", encoding="utf-8") as handle:
        handle.write("P999,新客户,13900009999,new@example.com\n")
    with pytest.raises(importing.ImportFileError) as refused:
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", run=run)
    assert "changed" in refused.value.issues[0].message
    # resume by content finds nothing to continue, so the file is imported whole (upserts: no duplicates)
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", resume=True)
    assert result.run.pk != run.pk
    assert Contact.objects.count() == ROWS + 1
