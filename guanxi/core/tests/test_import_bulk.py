"""The large-import paths, forced on small files: secondary and full-text indexes (and on
PostgreSQL the foreign keys) suspended for the bulk and rebuilt at the end (also after a
crash, by a resume or by migrate), and rows parsed by worker processes. Each must store
exactly what the ordinary path stores."""

from __future__ import annotations

import csv

import pytest
from django.db import IntegrityError, connection, transaction

from guanxi.core import importing, selectors
from guanxi.core.models import Contact, ContactEmail, ContactPhone, ImportRun, ImportRunState

pytestmark = pytest.mark.django_db
ROWS = 60
CHUNK = 20


class Crash(RuntimeError):
    """Stands in for a killed process."""


@pytest.fixture
def people_file(tmp_path):
    path = tmp_path / "people.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["外部编号", "姓名", "手机", "邮箱", "公司", "标签", "生日"])
        for number in range(ROWS):
            writer.writerow([f"B{number:03d}", f"王{number}芳" if number % 2 else f"Anna Li{number}",
                             f"0138-0000-{number:04d}" if number % 3 else f"+86 138 0000 {number:04d}",
                             f"B{number}@Example.com", f"公司{number % 4}", "VIP;展会" if number % 5 == 0 else "",
                             "1990-05-0%d" % (number % 9 + 1)])
    return path


def index_names() -> set[str]:
    """Non-unique indexes and triggers on the contact tables, as the database has them now."""
    tables = importing.SUSPENDED_TABLES["contact"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) "
                           "AND indexdef NOT LIKE 'CREATE UNIQUE%%'", [list(tables)])
        else:
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(f"SELECT name FROM sqlite_master WHERE tbl_name IN ({placeholders}) AND sql IS NOT NULL "
                           f"AND type IN ('index', 'trigger') AND sql NOT LIKE 'CREATE UNIQUE%%'", list(tables))
        return {row[0] for row in cursor.fetchall()}


def foreign_keys() -> set[tuple]:
    """Foreign keys of the contact tables as the database has them now: on PostgreSQL
    (name, checked for every row); SQLite keeps them (checked per connection) as (table, column)."""
    tables = list(importing.SUSPENDED_TABLES["contact"])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' "
                           "AND conrelid::regclass::text = ANY(%s)", [tables])
        else:
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(f'SELECT m.name, p."from" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p '
                           f"WHERE m.name IN ({placeholders})", tables)
        return set(cursor.fetchall())


def stored_state() -> list[tuple]:
    contacts = list(Contact.objects.order_by("external_id").values_list(
        "external_id", "full_name", "phone", "email", "account__name", "birth_date", "search_text"))
    phones = sorted(ContactPhone.objects.values_list("contact__external_id", "number", "kind", "is_primary"))
    emails = sorted(ContactEmail.objects.values_list("contact__external_id", "email", "is_primary"))
    tags = sorted(Contact.tags.through.objects.values_list("contact__external_id", "tag__name"))
    return [contacts, phones, emails, tags]


def assert_found_by_search(admin_user):
    wang = Contact.objects.get(external_id="B007")
    assert [c.pk for c in selectors.global_search(admin_user, "+8613800000007").contacts] == [wang.pk]
    assert [c.pk for c in selectors.global_search(admin_user, "138 0000 0007").contacts] == [wang.pk]
    assert wang.pk in [c.pk for c in selectors.global_search(admin_user, "王7芳").contacts]
    anna = Contact.objects.get(external_id="B010")
    assert anna.pk in [c.pk for c in selectors.global_search(admin_user, "Li10").contacts]


def test_bulk_import_suspends_indexes_and_rebuilds_them_with_the_same_result(admin_user, people_file, monkeypatch):
    before, keys_before = index_names(), foreign_keys()
    assert len(before) >= 10 and len(keys_before) >= 8
    seen_during, keys_during = [], []
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10)
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   after_chunk=lambda run, row: (seen_during.append(index_names()),
                                                                 keys_during.append(foreign_keys())))
    assert (result.created, result.error_rows) == (ROWS, 0)
    # PostgreSQL checked no foreign key row by row meanwhile (SQLite checks them per connection)
    assert keys_during == [set() if connection.vendor == "postgresql" else keys_before] * len(seen_during)
    # while the chunks were written the read-only indexes were gone, the dedup lookups' indexes stayed
    assert seen_during and all(len(names) < len(before) for names in seen_during)
    kept = {name for name in before if name.startswith(("core_contactphone_number", "core_contactemail_email"))}
    assert kept and all(kept <= names for names in seen_during)
    # and afterwards every one is back (each key checked on every row), nothing is left to
    # restore, and search finds the rows
    assert index_names() == before and foreign_keys() == keys_before
    run = ImportRun.objects.get()
    assert run.state == ImportRunState.SUCCEEDED and run.options["suspended_indexes"] == []
    assert_found_by_search(admin_user)
    bulk_state = stored_state()
    assert len(bulk_state[0]) == ROWS and len(bulk_state[1]) == ROWS and len(bulk_state[3]) == 2 * ROWS // 5
    # the same file again through the ordinary path upserts and changes nothing
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10 ** 9)
    again = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    assert (again.created, again.updated, again.unchanged) == (0, 0, ROWS)
    assert stored_state() == bulk_state


def test_bulk_and_ordinary_paths_store_the_same(admin_user, people_file, monkeypatch):
    importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    ordinary = stored_state()
    Contact.objects.all().delete()
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10)
    importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    assert stored_state() == ordinary
    assert_found_by_search(admin_user)


def test_crash_with_indexes_suspended_then_resume_restores_them(admin_user, people_file, monkeypatch):
    before, keys_before = index_names(), foreign_keys()
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10)

    def crash(run, last_row):
        if last_row >= 1 + CHUNK:
            raise Crash("killed after chunk 1")

    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash)
    run = ImportRun.objects.get()
    assert run.state == ImportRunState.INTERRUPTED and run.options["suspended_indexes"]
    assert index_names() < before and Contact.objects.count() == CHUNK
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   resume=True)
    assert result.run.pk == run.pk and result.created == ROWS
    assert Contact.objects.count() == ROWS and ContactPhone.objects.count() == ROWS
    assert index_names() == before and foreign_keys() == keys_before
    assert_found_by_search(admin_user)


def crash_bulk_import_after_first_chunk(admin_user, people_file, monkeypatch) -> None:
    """A bulk import (indexes suspended) killed once its first chunk is committed."""
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10)

    def crash(run, last_row):
        raise Crash("killed after chunk 1")

    with pytest.raises(Crash):
        importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                              after_chunk=crash)


def test_migrate_restores_the_indexes_of_a_crashed_import_that_is_never_resumed(admin_user, people_file,
                                                                               monkeypatch):
    before, keys_before = index_names(), foreign_keys()
    crash_bulk_import_after_first_chunk(admin_user, people_file, monkeypatch)
    assert index_names() < before
    # `guanxi migrate` sends post_migrate for the core app, whose receiver repairs this
    from django.apps import apps
    from django.db.models.signals import post_migrate

    post_migrate.send(sender=apps.get_app_config("core"), app_config=apps.get_app_config("core"),
                      verbosity=0, interactive=False, using="default", plan=[], apps=apps)
    assert index_names() == before and foreign_keys() == keys_before
    run = ImportRun.objects.get()
    assert run.options["suspended_indexes"] == []
    # the rows written before the crash are searchable again
    wang = Contact.objects.get(external_id="B007")
    assert [c.pk for c in selectors.global_search(admin_user, "138 0000 0007").contacts] == [wang.pk]


def test_a_row_left_referring_to_a_deleted_record_brings_the_foreign_key_back_for_new_rows(admin_user, people_file,
                                                                                          monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps its foreign keys during a bulk import")
    keys_before = foreign_keys()
    crash_bulk_import_after_first_chunk(admin_user, people_file, monkeypatch)
    # meanwhile a contact the import wrote is deleted behind its back: no key refuses it, so its
    # phone and email rows stay, referring to nothing
    orphan = Contact.objects.get(external_id="B003")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_contact WHERE id = %s", [orphan.pk])
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   resume=True)
    assert result.error_rows == 0 and Contact.objects.count() == ROWS - 1
    # every key is back; the two those rows break guard new rows without vouching for the old
    assert {name for name, _checked in foreign_keys()} == {name for name, _checked in keys_before}
    assert {name for name, checked in foreign_keys() if not checked} == {
        name for name, _checked in keys_before if name.startswith(("core_contactphone_contact_id",
                                                                   "core_contactemail_contact_id"))}
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checked now, as at a commit
        ContactPhone.objects.create(contact_id=orphan.pk, number="+8613900000000")
    assert ImportRun.objects.get().options["suspended_indexes"] == []


def test_rows_parsed_by_worker_processes_store_what_the_thread_stores(admin_user, people_file, monkeypatch):
    importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    threaded = stored_state()
    Contact.objects.all().delete()
    ImportRun.objects.all().delete()
    monkeypatch.setattr(importing, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(importing, "PARSE_BLOCK_ROWS", 7)   # blocks that do not line up with the chunks
    checkpoints = []
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK,
                                   after_chunk=lambda run, row: checkpoints.append(row))
    assert (result.created, result.error_rows) == (ROWS, 0)
    assert checkpoints == [1 + CHUNK, 1 + 2 * CHUNK, 1 + 3 * CHUNK]
    assert stored_state() == threaded


def test_worker_processes_report_bad_cells_by_row_and_column(admin_user, tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "手机", "邮箱"])
        for number in range(30):
            writer.writerow([f"客户{number}", "12345" if number == 17 else f"139 0000 {number:04d}",
                             "not-an-email" if number == 25 else f"c{number}@example.com"])
    monkeypatch.setattr(importing, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(importing, "PARSE_BLOCK_ROWS", 4)
    result = importing.import_file(actor=admin_user, path=path, object_type="contact", chunk_size=10)
    assert [(issue.file, issue.row, issue.column) for issue in result.errors] == [
        ("bad.csv", 19, "手机"), ("bad.csv", 27, "邮箱")]
    assert Contact.objects.count() == 0


def test_postgresql_refreshes_the_lookup_statistics_as_the_import_doubles_the_table(admin_user, people_file,
                                                                                   monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's planner needs no statistics to probe the lookup indexes")
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(importing, "LOOKUP_STATISTICS_MIN_ROWS", 10)
    with CaptureQueriesContext(connection) as queries:
        result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    assert (result.created, result.error_rows) == (ROWS, 0)
    analyzed = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("ANALYZE")]
    # 20 rows doubled the 10 of the floor, 40 doubled 20; 60 does not double 40
    assert len(analyzed) == 2 and all('"core_contactphone" ("number")' in sql for sql in analyzed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'core_contactphone'")
        assert cursor.fetchone()[0] == 2 * CHUNK   # what the last refresh saw
        # the lookups' planner setting is put back: the rest of the transaction plans as usual
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
    assert Contact.objects.count() == ROWS and ContactPhone.objects.count() == ROWS


def test_lookups_on_postgresql_put_back_a_sequential_scan_setting_of_the_session(admin_user):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        importing._rows_where_in("SELECT number, contact_id FROM core_contactphone WHERE number IN ({})", ["+1"])
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SET LOCAL enable_seqscan = on")
        importing._rows_where_in("SELECT number, contact_id FROM core_contactphone WHERE number IN ({})", ["+1"])
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db(transaction=True)
def test_postgresql_builds_the_full_text_index_on_a_second_connection_after_a_committed_import(
        admin_user, people_file, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite builds its indexes on the one writing connection")
    from guanxi.core import bulk_writes

    before = index_names()
    built_elsewhere = []
    original = bulk_writes._build_on_own_connection

    def recording(statements, failures):
        built_elsewhere.extend(statements)
        original(statements, failures)

    monkeypatch.setattr(bulk_writes, "_build_on_own_connection", recording)
    monkeypatch.setattr(importing, "BULK_INDEX_MIN_ROWS", 10)
    result = importing.import_file(actor=admin_user, path=people_file, object_type="contact", chunk_size=CHUNK)
    assert (result.created, result.error_rows) == (ROWS, 0)
    assert len(built_elsewhere) == 1 and " USING gin " in built_elsewhere[0]
    assert index_names() == before
    assert ImportRun.objects.get().options["suspended_indexes"] == []
    assert_found_by_search(admin_user)


def test_a_failed_index_build_on_the_second_connection_fails_the_restore_and_keeps_the_list(
        admin_user, people_file, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from guanxi.core import bulk_writes

    def failing(statements, failures):
        failures.append(RuntimeError("the second connection went away"))

    monkeypatch.setattr(bulk_writes, "_build_on_own_connection", failing)
    suspended = [{"kind": "index", "table": "core_contact", "name": "x_gin",
                  "sql": "CREATE INDEX x_gin ON public.core_contact "
                         "USING gin (to_tsvector('simple'::regconfig, full_name))"},
                 {"kind": "index", "table": "core_contact", "name": "x_btree",
                  "sql": "CREATE INDEX x_btree ON public.core_contact USING btree (full_name)"}]
    with pytest.raises(RuntimeError, match="went away"):
        with transaction.atomic():
            bulk_writes.restore_indexes(suspended, side_connection=True)
    assert "x_btree" not in index_names()   # the failed restore's transaction built nothing
