"""The warehouse: a full build of the star schema, incremental refreshes that read only what
changed, deletions, self-healing of units the watermark missed, domains that are not
installed, the command and the background job."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from guanxi.analytics import warehouse
from guanxi.analytics.services.warehouse import warehouse_refresh, warehouse_refresh_enqueue
from guanxi.analytics.tests import purchase_history as history
from guanxi.analytics.warehouse import schema
from guanxi.core import services as core_services
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import Contact, Role
from guanxi.jobs.models import JobState

pytestmark = pytest.mark.django_db


def scalar(sql: str, params=()):
    return warehouse.query(sql, params)[1][0][0]


def table_result(result, name: str):
    return next(table for table in result.tables if table.name == name)


@pytest.fixture
def shop(admin_user):
    """Two customers with orders, calls and a case."""
    wang = history.customer(admin_user, "王芳", gender="female", income_band="high", occupation="teacher",
                            birth_date=datetime.date(1980, 5, 1))
    li = history.customer(admin_user, "李雷", gender="male", income_band="middle")
    phone = history.product("PHONE-1", "Phone", family="devices")
    plan = history.product("PLAN-1", "Data plan", family="plans")
    first = history.order(wang, [(phone, 1, "3000.00"), (plan, 12, "50.00", 10)], at="2025-01-15 23:30")
    second = history.order(li, [(plan, 6, "50.00")], at="2025-02-01 10:00")
    history.interaction(wang, "phone", at="2025-01-10 09:00", duration=300)
    history.interaction(li, "email", at="2025-01-11 09:00")
    history.case(wang, category="complaint", csat=2, resolution_breached=True)
    history.settle()
    return {"wang": wang, "li": li, "phone": phone, "plan": plan, "first": first, "second": second}


def test_a_full_build_fills_every_table_of_the_star_schema(warehouse_engine, shop):
    # when the warehouse is built for the first time
    result = warehouse_refresh(actor=None)

    # then every table was read whole, and the facts point at their customers and products
    assert result.full and result.engine == warehouse_engine
    assert {table.name for table in result.tables} == {table.name for table in schema.TABLES}
    assert scalar("SELECT COUNT(*) FROM dim_customer") == 2
    assert scalar("SELECT COUNT(*) FROM fact_order_line") == 3
    assert scalar("SELECT COUNT(*) FROM dim_product") == 2
    assert scalar("SELECT COUNT(*) FROM fact_interaction") == 2
    assert scalar("SELECT COUNT(*) FROM fact_case") == 1
    assert scalar("SELECT COUNT(*) FROM dim_channel") == 11
    wang = shop["wang"]
    columns, rows = warehouse.query(
        "SELECT c.full_name, c.gender, c.income_band, c.occupation, c.birth_date, c.marital_status "
        "FROM dim_customer c WHERE c.customer_id = ?", [wang.pk])
    assert rows == [("王芳", "female", "high", "teacher", datetime.date(1980, 5, 1), None)]  # blank → NULL
    # money in the base currency after the discount; the list amount before it
    columns, rows = warehouse.query(
        "SELECT p.sku, f.quantity, f.amount_base, f.list_amount_base, f.discount_base FROM fact_order_line f "
        "JOIN dim_product p ON p.product_id = f.product_id WHERE f.customer_id = ? ORDER BY p.sku", [wang.pk])
    assert [(sku, float(quantity), round(amount, 2), round(listed, 2), round(discount, 2))
            for sku, quantity, amount, listed, discount in rows] == [
        ("PHONE-1", 1.0, 3000.0, 3000.0, 0.0), ("PLAN-1", 12.0, 540.0, 600.0, 60.0)]
    # times are the local calendar's: 23:30 in Shanghai is still the 15th
    assert warehouse.query("SELECT CAST(ordered_at AS DATE), CAST(EXTRACT(HOUR FROM ordered_at) AS INTEGER) "
                           "FROM fact_order_line WHERE order_id = ? LIMIT 1", [shop["first"].pk])[1] == [
        (datetime.date(2025, 1, 15), 23)]
    assert scalar("SELECT CAST(MIN(date_key) AS VARCHAR) FROM dim_date") <= "2025-01-01"
    # the survey's satisfaction rides on the case
    assert warehouse.query("SELECT category, csat_score, resolution_breached FROM fact_case")[1] == [
        ("complaint", 2, True)]


@pytest.fixture
def no_overlap(monkeypatch):
    """Count rows exactly: no re-reading of the minutes before the watermark (that safety
    margin is tested on its own below)."""
    monkeypatch.setattr("guanxi.analytics.warehouse.loader.WATERMARK_OVERLAP", datetime.timedelta(0))


def test_an_incremental_refresh_reads_only_what_changed(warehouse_engine, shop, admin_user, no_overlap):
    # given a built warehouse
    warehouse_refresh(actor=None)

    # when one customer is renamed, one order gets a new line and a new call is logged
    core_services.contact_update(actor=admin_user, contact_id=shop["li"].pk, data={"full_name": "李雷雷"})
    from guanxi.sales.models import OrderLine

    OrderLine.objects.create(order=shop["second"], position=2, product=shop["phone"], description="Phone",
                             quantity=1, unit_price="2000.00", line_total="2000.00")
    history.touch_order(shop["second"])
    history.interaction(shop["wang"], "chat", at="2025-02-02 12:00")
    result = warehouse_refresh(actor=None)

    # then only the changed units were read again, and the warehouse shows the changes
    assert not result.full
    assert table_result(result, "dim_customer").rows_read == 1
    assert table_result(result, "fact_order_line").rows_read == 2  # the changed order: both its lines
    assert table_result(result, "fact_interaction").rows_read == 1
    assert table_result(result, "fact_case").rows_read == 0
    assert scalar("SELECT full_name FROM dim_customer WHERE customer_id = ?", [shop["li"].pk]) == "李雷雷"
    assert scalar("SELECT COUNT(*) FROM fact_order_line") == 4
    assert scalar("SELECT COUNT(*) FROM fact_interaction") == 3
    assert scalar("SELECT COUNT(*) FROM dim_customer") == 2

    # and a refresh with nothing new reads nothing
    quiet = warehouse_refresh(actor=None)
    assert table_result(quiet, "fact_interaction").rows_read == 0
    assert table_result(quiet, "fact_order_line").rows_read == 0


def test_changes_just_before_the_watermark_are_read_again(warehouse_engine, shop, admin_user):
    """A transaction that began before the last refresh may commit after it with an older
    change time; the refresh re-reads the last few minutes before its watermark."""
    # given a built warehouse, and a customer changed a minute before the newest change
    warehouse_refresh(actor=None)
    core_services.contact_update(actor=admin_user, contact_id=shop["li"].pk, data={"full_name": "李雷雷"})
    Contact.objects.filter(pk=shop["wang"].pk).update(updated_at=timezone.now() - datetime.timedelta(minutes=1),
                                                      full_name="王芳芳")

    # when the warehouse is refreshed, it picks up both
    result = warehouse_refresh(actor=None)
    assert table_result(result, "dim_customer").rows_read == 2
    assert scalar("SELECT full_name FROM dim_customer WHERE customer_id = ?", [shop["wang"].pk]) == "王芳芳"


def test_deleted_records_leave_the_warehouse(warehouse_engine, shop, admin_user):
    # given a built warehouse
    warehouse_refresh(actor=None)

    # when a customer is deleted (its calls go with it) and an order's lines are removed
    core_services.contact_delete(actor=admin_user, contact_id=shop["li"].pk)
    shop["first"].lines.all().delete()
    history.touch_order(shop["first"])
    result = warehouse_refresh(actor=None)

    # then they are gone from the dimensions and facts
    assert scalar("SELECT COUNT(*) FROM dim_customer WHERE customer_id = ?", [shop["li"].pk]) == 0
    assert scalar("SELECT COUNT(*) FROM fact_interaction WHERE channel = 'email'") == 0
    assert scalar("SELECT COUNT(*) FROM fact_order_line WHERE order_id = ?", [shop["first"].pk]) == 0
    assert table_result(result, "dim_customer").units_removed == 1


def test_a_row_the_watermark_missed_is_found_by_counting(warehouse_engine, shop, admin_user):
    # given a built warehouse
    warehouse_refresh(actor=None)

    # when a contact appears with a change time long before the watermark (a late commit,
    # an import that kept the source system's times)
    late = history.customer(admin_user, "赵敏")
    Contact.objects.filter(pk=late.pk).update(updated_at=timezone.now() - datetime.timedelta(days=30))
    warehouse_refresh(actor=None)

    # then it is in the warehouse all the same
    assert scalar("SELECT full_name FROM dim_customer WHERE customer_id = ?", [late.pk]) == "赵敏"


def test_a_domain_that_is_not_installed_leaves_its_tables_empty(warehouse_engine, shop, monkeypatch):
    # given the sales domain is absent
    monkeypatch.setattr("guanxi.analytics.warehouse.loader.source_available",
                        lambda table: "sales" not in table.requires)

    # when the warehouse is built
    result = warehouse_refresh(actor=None)

    # then the sales tables exist, empty, and report SQL over them still runs
    assert table_result(result, "fact_order_line").mode == "skipped"
    assert scalar("SELECT COUNT(*) FROM fact_order_line") == 0
    assert scalar("SELECT COALESCE(SUM(amount_base), 0) FROM fact_order_line") == 0
    assert scalar("SELECT COUNT(*) FROM dim_customer") == 2


def test_a_full_rebuild_replaces_everything(warehouse_engine, shop):
    warehouse_refresh(actor=None)
    result = warehouse_refresh(actor=None, full=True)
    assert result.full
    assert table_result(result, "dim_customer").mode == "full"
    assert scalar("SELECT COUNT(*) FROM fact_order_line") == 3
    assert warehouse.store().info()["last_mode"] == "full"


def test_a_full_rebuild_removes_what_a_killed_rebuild_left_behind(duckdb_warehouse, shop, settings):
    # given the half-written file of a rebuild whose process is gone, and one of a live process
    path = Path(settings.GUANXI_WAREHOUSE_PATH)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    abandoned = path.with_name(f"{path.name}.{finished.stdout.strip()}.0123abcd.building")
    abandoned_log = abandoned.with_name(abandoned.name + ".wal")
    running = path.with_name(f"{path.name}.{os.getpid()}.4567cdef.building")
    for leftover in (abandoned, abandoned_log, running):
        leftover.write_bytes(b"half a warehouse")

    # when the warehouse is rebuilt
    result = warehouse_refresh(actor=None, full=True)

    # then the dead process's files are gone, the live one's stay, and the warehouse is whole
    assert result.full and not abandoned.exists() and not abandoned_log.exists()
    assert running.exists()
    assert scalar("SELECT COUNT(*) FROM dim_customer") == 2


def test_reading_before_the_first_build_says_so(warehouse_engine):
    with pytest.raises(warehouse.WarehouseNotBuilt):
        warehouse.query("SELECT COUNT(*) FROM dim_customer")
    assert not warehouse.is_built()


def test_the_command_refreshes_and_reports(duckdb_warehouse, shop):
    # when the operator runs `guanxi warehouse refresh --full --json`
    out = StringIO()
    call_command("warehouse", "refresh", "--full", "--json", stdout=out)

    # then it prints what was loaded, and `status` lists the tables
    outcome = json.loads(out.getvalue())
    assert outcome["full"] is True and outcome["tables"]["fact_order_line"]["rows"] == 3
    out = StringIO()
    call_command("warehouse", "status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert {row["table"]: row["rows"] for row in status["tables"]}["dim_customer"] == 2

    # and a plain refresh prints one line per table
    out = StringIO()
    call_command("warehouse", "refresh", "--no-progress", stdout=out)
    assert "Incremental refresh" in out.getvalue() and "dim_customer" in out.getvalue()


def test_progress_is_reported_for_every_table_until_it_is_complete(warehouse_engine, shop):
    # when the warehouse is built with a progress callback
    reports = []
    warehouse_refresh(actor=None, progress=lambda table, done, total: reports.append((table, done, total)))

    # then every table reported, and each one's last report is complete
    last = {table: (done, total) for table, done, total in reports}
    assert set(last) == {table.name for table in schema.TABLES}
    assert last["fact_order_line"] == (3, 3) and last["dim_customer"] == (2, 2)
    assert all(done == total for done, total in last.values())


def test_the_command_draws_a_progress_bar_on_a_terminal(duckdb_warehouse, shop, monkeypatch, capsys):
    # given an operator's terminal
    monkeypatch.setenv("FORCE_COLOR", "1")

    # when the warehouse is rebuilt from the command line
    call_command("warehouse", "refresh", "--full", stdout=StringIO())

    # then a bar per table was drawn on standard error, each with rows done of rows expected
    drawn = capsys.readouterr().err
    assert "fact_order_line" in drawn and "3/3" in drawn and "dim_customer" in drawn and "2/2" in drawn


def test_the_refresh_job_runs_in_the_background_for_those_allowed(duckdb_warehouse, shop, make_user, admin_user):
    # when an administrator starts a refresh job
    job = warehouse_refresh_enqueue(actor=admin_user)

    # then it ran (inline in tests) and recorded what it loaded
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["tables"]["dim_customer"]["rows"] == 2 and job.progress == job.total

    # and a sales rep may not start one
    rep = make_user("rep", Role.SALES_REP)
    with pytest.raises(PermissionDenied):
        warehouse_refresh_enqueue(actor=rep)
