"""Loading the star schema from the operational database: full rebuilds and incremental
refreshes, into DuckDB or into a PostgreSQL schema.

The algorithm is the same for both stores (``refresh``); what differs is where the rows
go. DuckDB is a separate file, so rows are read from the operational database through
Django's connection in chunks and handed to DuckDB as NumPy columns. The PostgreSQL store
lives in the operational database itself, so each step is one ``INSERT … SELECT`` there.

An incremental refresh of a table:

1. reads the current watermark (highest change stamp) of the source;
2. deletes from the warehouse the units changed since the stored watermark (less a
   safety overlap for transactions that committed late) and reads them again;
3. compares the number of units in the source and the warehouse; when they differ,
   compares the unit ids, deletes what the source no longer has and reads what the
   warehouse lacks;
4. stores the new watermark, in the same transaction as the rows.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from guanxi.analytics.warehouse import schema
from guanxi.analytics.warehouse.columns import to_columns
from guanxi.analytics.warehouse.schema import DIM_DATE, SCHEMA_VERSION, TABLES, Table, source_available, sql_for

logger = logging.getLogger(__name__)

#: Rows read from the operational database per round trip.
CHUNK_ROWS = 20_000
#: Changes stamped up to this long before the last watermark are read again: a transaction
#: that started before the last refresh may commit after it with an older ``updated_at``.
WATERMARK_OVERLAP = datetime.timedelta(minutes=5)
#: Units re-read by id per statement when the source and the warehouse disagree.
UNIT_BATCH = 500

#: ``progress(table name, rows done, rows expected or None)``
ProgressCallback = Callable[[str, int, int | None], None]


class WarehouseError(Exception):
    """The warehouse cannot answer; the message says why and what to do."""


class WarehouseNotBuilt(WarehouseError):
    pass


class WarehouseBusy(WarehouseError):
    pass


@dataclass
class TableResult:
    name: str
    mode: str          # "full", "incremental" or "skipped" (its domain is not installed)
    rows_read: int = 0
    units_changed: int = 0   # changed units read again
    units_removed: int = 0   # units the source no longer has
    rows_total: int = 0


@dataclass
class RefreshResult:
    full: bool
    engine: str
    seconds: float = 0.0
    tables: list[TableResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"full": self.full, "engine": self.engine, "seconds": round(self.seconds, 3),
                "tables": {table.name: {"mode": table.mode, "rows_read": table.rows_read,
                                        "units_changed": table.units_changed, "units_removed": table.units_removed,
                                        "rows": table.rows_total}
                           for table in self.tables}}


# ======================================================================================
# Reading the operational database
# ======================================================================================
def read_rows(sql: str, params: list | tuple = ()) -> Iterator[list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        while True:
            rows = cursor.fetchmany(CHUNK_ROWS)
            if not rows:
                return
            yield rows


def read_value(sql: str, params: list | tuple = ()):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return row[0] if row else None


def watermark_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def since_parameter(table: Table, stored: str | None):
    """The stored watermark as a query parameter, moved back by the overlap."""
    if table.watermark_kind == "id":
        return int(stored) if stored is not None else 0
    if stored is None:
        moment = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)
    else:
        moment = datetime.datetime.fromisoformat(stored)
        if moment.tzinfo is None:  # SQLite keeps UTC without an offset
            moment = moment.replace(tzinfo=datetime.UTC)
        moment -= WATERMARK_OVERLAP
    return connection.ops.adapt_datetimefield_value(moment)


def date_rows(first: datetime.date, last: datetime.date) -> list[tuple]:
    rows = []
    day = first
    while day <= last:
        rows.append((day, day.year, (day.month - 1) // 3 + 1, day.month, day.day, day.isoweekday(),
                     f"{day.year:04d}-{day.month:02d}"))
        day += datetime.timedelta(days=1)
    return rows


DATE_SPAN_SQL = """
    SELECT MIN(first_day), MAX(last_day) FROM (
        SELECT MIN(CAST(ordered_at AS DATE)) AS first_day, MAX(CAST(ordered_at AS DATE)) AS last_day
          FROM fact_order_line
        UNION ALL SELECT MIN(CAST(occurred_at AS DATE)), MAX(CAST(occurred_at AS DATE)) FROM fact_interaction
        UNION ALL SELECT MIN(CAST(created_at AS DATE)), MAX(CAST(created_at AS DATE)) FROM fact_case
        UNION ALL SELECT MIN(CAST(created_at AS DATE)), MAX(CAST(created_at AS DATE)) FROM dim_customer
    ) spans"""


def date_span(first: datetime.date | None, last: datetime.date | None) -> tuple[datetime.date, datetime.date]:
    """Whole years around the data, never more than 30 years back or 2 ahead."""
    today = timezone.localdate()
    first = max(first or today, today.replace(year=today.year - 30))
    last = min(max(last or today, today), today.replace(year=today.year + 2))
    return datetime.date(first.year, 1, 1), datetime.date(last.year + 1, 12, 31)


# ======================================================================================
# The store-independent algorithm
# ======================================================================================
def refresh(store, *, full: bool = False, progress: ProgressCallback | None = None) -> RefreshResult:
    started = time.monotonic()
    progress = progress or (lambda name, done, total: None)
    with store.session(full=full) as session:
        full = session.full
        result = RefreshResult(full=full, engine=store.vendor)
        for table in TABLES:
            if table is DIM_DATE:
                first, last = session.date_span()
                rows = date_rows(*date_span(first, last))
                session.replace_with_rows(table, rows)
                result.tables.append(TableResult(table.name, "full", len(rows), rows_total=len(rows)))
                session.set_state(table, None, len(rows), "full")
                progress(table.name, len(rows), len(rows))
                continue
            if table.python_rows is not None:
                rows = table.python_rows()
                session.replace_with_rows(table, rows)
                session.set_state(table, None, len(rows), "full")
                result.tables.append(TableResult(table.name, "full", len(rows), rows_total=len(rows)))
                progress(table.name, len(rows), len(rows))
                continue
            if not source_available(table):
                session.replace_with_rows(table, [])
                session.set_state(table, None, 0, "skipped")
                result.tables.append(TableResult(table.name, "skipped"))
                progress(table.name, 0, 0)
                continue
            state = session.state(table)
            mark = watermark_text(read_value(sql_for(table, table.watermark))) if table.incremental else None
            if full or not table.incremental or state is None:
                read = session.replace_all(table, lambda done, total, name=table.name: progress(name, done, total))
                outcome = TableResult(table.name, "full", read)
            else:
                since = since_parameter(table, state)
                changed, read = session.reload_changed(table, since)
                removed, healed = session.reconcile(table)
                outcome = TableResult(table.name, "incremental", read + healed, changed, removed)
            progress(table.name, outcome.rows_read, outcome.rows_read)
            outcome.rows_total = session.row_count(table)
            session.set_state(table, mark, outcome.rows_total, outcome.mode)
            result.tables.append(outcome)
    result.seconds = time.monotonic() - started
    logger.info("warehouse %s refresh on %s in %.2f s", "full" if result.full else "incremental",
                store.vendor, result.seconds)
    return result


STATE_TABLE = "warehouse_state"
INFO_TABLE = "warehouse_info"


def info_values(*, full: bool) -> dict[str, str]:
    now = timezone.now().isoformat()
    values = {"schema_version": str(SCHEMA_VERSION), "refreshed_at": now,
              "last_mode": "full" if full else "incremental"}
    if full:
        values["built_at"] = now
    return values


def ddl(table: Table, *, double: str) -> str:
    column_list = ", ".join(f"{column.name} {double if column.type == 'DOUBLE' else column.type}"
                            for column in table.columns)
    return f"CREATE TABLE {table.name} ({column_list})"


# ======================================================================================
# DuckDB: an embedded file under GUANXI_DATA_DIR
# ======================================================================================
class DuckDBStore:
    """The warehouse as one DuckDB file.

    A full rebuild writes a new file beside the old one and swaps it in with an atomic
    rename, so readers keep answering from the old file until the new one is complete.
    An incremental refresh changes the file in one DuckDB transaction. DuckDB lets one
    process write a file at a time; another process's reader waits (``BUSY_WAIT_SECONDS``)
    and then says the warehouse is busy.
    """

    vendor = "duckdb"
    BUSY_WAIT_SECONDS = 15.0
    _write_lock = threading.Lock()

    def __init__(self, path: Path):
        self.path = Path(path)

    # --- connections ---
    @contextmanager
    def connect(self, path: Path | None = None):
        import duckdb

        path = Path(path or self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.BUSY_WAIT_SECONDS
        while True:
            try:
                handle = duckdb.connect(str(path))
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise WarehouseBusy(str(error)) from error
                time.sleep(0.2)
        try:
            yield handle
        finally:
            handle.close()

    def exists(self) -> bool:
        if not self.path.exists():
            return False
        with self.connect() as handle:
            return bool(handle.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [INFO_TABLE]).fetchone()[0])

    def query(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        if not self.path.exists():
            raise WarehouseNotBuilt(str(self.path))
        with self.connect() as handle:
            cursor = handle.execute(sql, list(params))
            names = [column[0] for column in cursor.description]
            return names, cursor.fetchall()

    def query_columns(self, sql: str, params: list | tuple = ()) -> dict[str, np.ndarray]:
        if not self.path.exists():
            raise WarehouseNotBuilt(str(self.path))
        with self.connect() as handle:
            return {name: np.asarray(values) for name, values in
                    handle.execute(sql, list(params)).fetchnumpy().items()}

    def info(self) -> dict[str, str]:
        if not self.exists():
            return {}
        with self.connect() as handle:
            return dict(handle.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())

    def table_states(self) -> list[tuple]:
        if not self.exists():
            return []
        with self.connect() as handle:
            return handle.execute(f"SELECT table_name, watermark, loaded_at, row_count, mode FROM {STATE_TABLE} "
                                  "ORDER BY table_name").fetchall()

    # --- refresh ---
    @contextmanager
    def session(self, *, full: bool):
        with self._write_lock:
            current_version = self.info().get("schema_version") if self.path.exists() else None
            full = full or current_version != str(SCHEMA_VERSION)
            if full:
                self._remove_abandoned_builds()
                building = self.path.with_name(f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.building")
                try:
                    with self.connect(building) as handle:
                        session = DuckDBSession(handle, full=True)
                        session.create_schema()
                        yield session
                        session.finish()
                    os.replace(building, self.path)
                finally:
                    for leftover in (building, building.with_name(building.name + ".wal")):
                        leftover.unlink(missing_ok=True)
                return
            with self.connect() as handle:
                session = DuckDBSession(handle, full=False)
                session.run("BEGIN TRANSACTION")
                try:
                    yield session
                    session.finish()
                    session.run("COMMIT")
                except BaseException:
                    session.run("ROLLBACK")
                    raise


    def _remove_abandoned_builds(self) -> None:
        """Delete the half-written files of full rebuilds whose process died (killed or
        crashed): nothing else would ever remove them, and each is as large as the warehouse."""
        for leftover in self.path.parent.glob(f"{self.path.name}.*.building*"):
            pid = leftover.name[len(self.path.name) + 1:].split(".", 1)[0]
            if pid.isdigit() and not process_alive(int(pid)):
                leftover.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


class DuckDBSession:
    def __init__(self, handle, *, full: bool):
        self.handle = handle
        self.full = full

    def run(self, sql: str, params: list | None = None) -> list[tuple]:
        """Execute and read the whole answer: DuckDB refuses new work while a result is open."""
        return self.handle.execute(sql, params or []).fetchall()

    def create_schema(self) -> None:
        for table in TABLES:
            self.run(ddl(table, double="DOUBLE"))
        self.run(f"CREATE TABLE {STATE_TABLE} (table_name VARCHAR, watermark VARCHAR, "
                            "loaded_at TIMESTAMP, row_count BIGINT, mode VARCHAR)")
        self.run(f"CREATE TABLE {INFO_TABLE} (key VARCHAR, value VARCHAR)")

    def finish(self) -> None:
        for key, value in info_values(full=self.full).items():
            self.run(f"DELETE FROM {INFO_TABLE} WHERE key = ?", [key])
            self.run(f"INSERT INTO {INFO_TABLE} VALUES (?, ?)", [key, value])

    # --- state ---
    def state(self, table: Table) -> str | None:
        rows = self.run(f"SELECT watermark FROM {STATE_TABLE} WHERE table_name = ?", [table.name])
        return rows[0][0] if rows else None

    def set_state(self, table: Table, watermark: str | None, rows: int, mode: str) -> None:
        self.run(f"DELETE FROM {STATE_TABLE} WHERE table_name = ?", [table.name])
        self.run(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?)",
                            [table.name, watermark, timezone.now().replace(tzinfo=None), rows, mode])

    def row_count(self, table: Table) -> int:
        return int(self.run(f"SELECT COUNT(*) FROM {table.name}")[0][0])

    def date_span(self):
        return self.run(DATE_SPAN_SQL)[0]

    # --- writing ---
    def _insert(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        names = table.column_names
        arrays = to_columns(rows, names, [column.type for column in table.columns])
        column_list = ", ".join(names)
        self.handle.register("incoming_rows", arrays)
        try:
            self.run(f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM incoming_rows")
        finally:
            self.handle.unregister("incoming_rows")

    def _stream(self, table: Table, sql: str, params: list, report=None) -> int:
        read = 0
        for rows in read_rows(sql, params):
            self._insert(table, rows)
            read += len(rows)
            if report:
                report(read)
        return read

    def _delete_units(self, table: Table, units: np.ndarray) -> int:
        if not len(units):
            return 0
        self.handle.register("gone_units", {"unit": units})
        try:
            deleted = self.run(
                f"DELETE FROM {table.name} WHERE {table.unit_column} IN (SELECT unit FROM gone_units)")
        finally:
            self.handle.unregister("gone_units")
        return int(deleted[0][0]) if deleted else 0

    def replace_with_rows(self, table: Table, rows: list[tuple]) -> None:
        self.run(f"DELETE FROM {table.name}")
        self._insert(table, rows)

    def replace_all(self, table: Table, report) -> int:
        self.run(f"DELETE FROM {table.name}")
        total = read_value(sql_for(table, table.row_count)) if table.row_count else None
        report(0, total)
        return self._stream(table, sql_for(table, table.rows), [], lambda done: report(done, total))

    def reload_changed(self, table: Table, since) -> tuple[int, int]:
        params = table.changed_parameters(since)
        changed_sql = sql_for(table, table.changed_units)
        changed = np.array([row[0] for rows in read_rows(changed_sql, params) for row in rows], dtype=object)
        if not len(changed):
            return 0, 0
        deleted_units = len(changed)
        self._delete_units(table, changed)
        read = self._stream(table, sql_for(table, table.rows,
                                           filter_sql=f"{table.unit_expression} IN ({changed_sql})"), params)
        return deleted_units, read

    def reconcile(self, table: Table) -> tuple[int, int]:
        """(units removed, rows read) after comparing the source's units with ours."""
        source_count = read_value(f"SELECT COUNT(*) FROM ({sql_for(table, table.all_units)}) units")
        ours = int(self.run(f"SELECT COUNT(DISTINCT {table.unit_column}) FROM {table.name}")[0][0])
        if source_count == ours:
            return 0, 0
        source = np.array([row[0] for rows in read_rows(sql_for(table, table.all_units)) for row in rows])
        warehouse = np.array([row[0] for row in self.run(f"SELECT DISTINCT {table.unit_column} FROM {table.name}")])
        gone = np.setdiff1d(warehouse, source) if len(warehouse) else warehouse
        missing = np.setdiff1d(source, warehouse) if len(source) else source
        self._delete_units(table, gone.astype(object))
        read = 0
        for start in range(0, len(missing), UNIT_BATCH):
            batch = [int(unit) if isinstance(unit, np.integer) else unit for unit in missing[start:start + UNIT_BATCH]]
            placeholders = ", ".join(["%s"] * len(batch))
            read += self._stream(table, sql_for(table, table.rows,
                                               filter_sql=f"{table.unit_expression} IN ({placeholders})"), batch)
        return len(gone), read


# ======================================================================================
# PostgreSQL: a schema of the operational database
# ======================================================================================
class PostgresStore:
    """The warehouse as the ``guanxi_warehouse`` schema of the PostgreSQL database.

    Every step runs inside PostgreSQL (``INSERT … SELECT``), in one transaction per
    refresh, so readers see the previous state until the refresh commits.
    """

    vendor = "postgresql"
    SCHEMA = "guanxi_warehouse"

    def _qualified(self, name: str) -> str:
        return f"{self.SCHEMA}.{name}"

    def exists(self) -> bool:
        return bool(read_value("SELECT to_regclass(%s) IS NOT NULL", [self._qualified(INFO_TABLE)]))

    def query(self, sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
        if not self.exists():
            raise WarehouseNotBuilt(self.SCHEMA)
        with transaction.atomic(), connection.cursor() as cursor, self.search_path(cursor):
            cursor.execute(postgres_placeholders(sql), list(params))
            names = [column.name for column in cursor.description]
            return names, cursor.fetchall()

    def query_columns(self, sql: str, params: list | tuple = ()) -> dict[str, np.ndarray]:
        names, rows = self.query(sql, params)
        transposed = list(zip(*rows, strict=True)) if rows else [() for _name in names]
        return {name: np.array(values, dtype=object) for name, values in zip(names, transposed, strict=True)}

    @contextmanager
    def search_path(self, cursor):
        """Report SQL names warehouse tables without a schema, as in DuckDB. ``SET LOCAL``
        would outlive an enclosing transaction, so the previous path is put back."""
        cursor.execute("SHOW search_path")
        previous = cursor.fetchone()[0]
        cursor.execute(f"SET LOCAL search_path TO {self.SCHEMA}, public")
        try:
            yield
        finally:
            cursor.execute("SELECT set_config('search_path', %s, true)", [previous])

    def info(self) -> dict[str, str]:
        if not self.exists():
            return {}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT key, value FROM {self._qualified(INFO_TABLE)}")
            return dict(cursor.fetchall())

    def table_states(self) -> list[tuple]:
        if not self.exists():
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT table_name, watermark, loaded_at, row_count, mode "
                           f"FROM {self._qualified(STATE_TABLE)} ORDER BY table_name")
            return cursor.fetchall()

    @contextmanager
    def session(self, *, full: bool):
        with transaction.atomic(), connection.cursor() as cursor:
            # One refresh at a time; a second waits for the first to commit.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('guanxi_warehouse_refresh'))")
            current_version = self.info().get("schema_version")
            full = full or current_version != str(SCHEMA_VERSION)
            session = PostgresSession(self, cursor, full=full)
            if full:
                session.create_schema()
            with self.search_path(cursor):
                yield session
                session.finish()


def postgres_placeholders(sql: str) -> str:
    """Report SQL is written with ``?`` (DuckDB's style); psycopg wants ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresSession:
    def __init__(self, store: PostgresStore, cursor, *, full: bool):
        self.store = store
        self.cursor = cursor
        self.full = full
        self.zone = settings.TIME_ZONE

    def create_schema(self) -> None:
        schema_name = self.store.SCHEMA
        self.cursor.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
        self.cursor.execute(f"CREATE SCHEMA {schema_name}")
        for table in TABLES:
            self.cursor.execute(ddl(table, double="DOUBLE PRECISION").replace(
                "CREATE TABLE ", f"CREATE TABLE {schema_name}.", 1))
            self.cursor.execute(f"CREATE INDEX ON {schema_name}.{table.name} ({table.unit_column})")
        self.cursor.execute(f"CREATE TABLE {schema_name}.{STATE_TABLE} (table_name VARCHAR, watermark VARCHAR, "
                            "loaded_at TIMESTAMP, row_count BIGINT, mode VARCHAR)")
        self.cursor.execute(f"CREATE TABLE {schema_name}.{INFO_TABLE} (key VARCHAR, value VARCHAR)")

    def finish(self) -> None:
        for key, value in info_values(full=self.full).items():
            self.cursor.execute(f"DELETE FROM {INFO_TABLE} WHERE key = %s", [key])
            self.cursor.execute(f"INSERT INTO {INFO_TABLE} VALUES (%s, %s)", [key, value])

    def state(self, table: Table) -> str | None:
        self.cursor.execute(f"SELECT watermark FROM {STATE_TABLE} WHERE table_name = %s", [table.name])
        row = self.cursor.fetchone()
        return row[0] if row else None

    def set_state(self, table: Table, watermark: str | None, rows: int, mode: str) -> None:
        self.cursor.execute(f"DELETE FROM {STATE_TABLE} WHERE table_name = %s", [table.name])
        self.cursor.execute(f"INSERT INTO {STATE_TABLE} VALUES (%s, %s, %s, %s, %s)",
                            [table.name, watermark, timezone.now().replace(tzinfo=None), rows, mode])

    def row_count(self, table: Table) -> int:
        self.cursor.execute(f"SELECT COUNT(*) FROM {table.name}")
        return int(self.cursor.fetchone()[0])

    def date_span(self):
        self.cursor.execute(DATE_SPAN_SQL)
        return self.cursor.fetchone()

    def _converted(self, table: Table) -> str:
        """Select list turning operational values into warehouse values (see ``columns.py``)."""
        expressions = []
        for column in table.columns:
            name = f"source.{column.name}"
            if column.type == "TIMESTAMP":
                expressions.append(f"({name} AT TIME ZONE '{self.zone}')")
            elif column.type == "VARCHAR":
                expressions.append(f"NULLIF(CAST({name} AS VARCHAR), '')")
            elif column.type == "DOUBLE":
                expressions.append(f"CAST({name} AS DOUBLE PRECISION)")
            else:
                expressions.append(f"CAST({name} AS {column.type})")
        return ", ".join(expressions)

    def _insert_select(self, table: Table, filter_sql: str, params: list) -> int:
        column_list = ", ".join(table.column_names)
        self.cursor.execute(
            f"INSERT INTO {table.name} ({column_list}) SELECT {self._converted(table)} "
            f"FROM ({sql_for(table, table.rows, filter_sql=filter_sql)}) AS source ({column_list})", params)
        return max(self.cursor.rowcount, 0)

    def replace_with_rows(self, table: Table, rows: list[tuple]) -> None:
        self.cursor.execute(f"DELETE FROM {table.name}")
        if rows:
            placeholders = ", ".join(["%s"] * len(table.columns))
            self.cursor.executemany(f"INSERT INTO {table.name} ({', '.join(table.column_names)}) "
                                    f"VALUES ({placeholders})", rows)

    def replace_all(self, table: Table, report) -> int:
        self.cursor.execute(f"DELETE FROM {table.name}")
        read = self._insert_select(table, "TRUE", [])
        report(read, read)
        return read

    def reload_changed(self, table: Table, since) -> tuple[int, int]:
        params = table.changed_parameters(since)
        changed_sql = sql_for(table, table.changed_units)
        self.cursor.execute(f"DELETE FROM {table.name} WHERE {table.unit_column} IN ({changed_sql})", params)
        deleted = max(self.cursor.rowcount, 0)
        read = self._insert_select(table, f"{table.unit_expression} IN ({changed_sql})", params)
        return deleted, read

    def reconcile(self, table: Table) -> tuple[int, int]:
        units = sql_for(table, table.all_units)
        self.cursor.execute(f"SELECT (SELECT COUNT(*) FROM ({units}) units), "
                            f"(SELECT COUNT(DISTINCT {table.unit_column}) FROM {table.name})")
        source_count, ours = self.cursor.fetchone()
        if source_count == ours:
            return 0, 0
        self.cursor.execute(f"DELETE FROM {table.name} w WHERE NOT EXISTS "
                            f"(SELECT 1 FROM ({units}) units WHERE units.unit = w.{table.unit_column})")
        removed = max(self.cursor.rowcount, 0)
        read = self._insert_select(table, f"{table.unit_expression} IN (SELECT units.unit FROM ({units}) units "
                                          f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} w "
                                          f"WHERE w.{table.unit_column} = units.unit))", [])
        return removed, read
