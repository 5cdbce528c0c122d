"""Set-based writes for imports: many rows in a few statements, on SQLite and PostgreSQL.

The ORM's ``save()`` costs a few hundred microseconds a row; an import of a million
contacts needs a few microseconds. These functions take plain tuples of Python values in
a given column order and write them the way each engine does it fastest:

- PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3) straight into the table, or into a
  temporary staging table followed by one ``UPDATE … FROM``.
- SQLite: ``executemany`` into a temporary staging table, then one ``INSERT … SELECT`` /
  ``UPDATE … FROM``. One statement per batch matters: the FTS5 triggers of core migration
  0002 flush the full-text index at every statement boundary, so row-by-row statements
  make the index merge a million times.

Values are adapted exactly as the ORM adapts them (``connection.ops``), so a row written
here reads back identical to one written by ``Model.save()``. Callers run inside
``transaction.atomic()``; nothing here commits.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence

from django.db import IntegrityError, connection, models, transaction

logger = logging.getLogger(__name__)

STAGE_PREFIX = "guanxi_stage_"


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def column_adapters(model: type[models.Model], columns: Sequence[str]) -> list[Callable | None]:
    """One function per column turning a Python value into what the driver stores
    (``None`` where the driver's own adaptation is already the ORM's)."""
    adapters: list[Callable | None] = []
    postgres = is_postgresql()
    for column in columns:
        field = model._meta.get_field(column) if column != "id" else model._meta.pk
        if isinstance(field, models.JSONField):
            adapters.append(_json_text)
        elif isinstance(field, models.DateTimeField) and not postgres:
            adapters.append(_same_as_last(connection.ops.adapt_datetimefield_value))
        else:
            adapters.append(None)
    return adapters


def _same_as_last(adapter: Callable) -> Callable:
    """``adapter`` remembering its last answer: a batch stamps every row with one timestamp."""
    last: list = [object(), None]

    def adapt(value):
        if value is not last[0]:
            last[0], last[1] = value, adapter(value)
        return last[1]

    return adapt


def _json_text(value):
    if value is None:
        return None
    if not value and isinstance(value, (dict, list)):  # most rows: no custom data, no interests
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


def adapt_rows(rows: Iterable[Sequence], adapters: Sequence[Callable | None]) -> list[tuple]:
    active = [(position, adapter) for position, adapter in enumerate(adapters) if adapter is not None]
    if not active:
        return [tuple(row) for row in rows]
    adapted = []
    for row in rows:
        values = list(row)
        for position, adapter in active:
            values[position] = adapter(values[position])
        adapted.append(tuple(values))
    return adapted


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys for ``count`` new rows, so children can be written without reading back.

    PostgreSQL draws them from the identity sequence. SQLite (``AUTOINCREMENT``) takes the
    next numbers after both the highest id and ``sqlite_sequence``; the caller holds the
    write lock (Guanxi opens SQLite transactions with ``BEGIN IMMEDIATE``), so no other
    writer can take them in between, and inserting them moves ``sqlite_sequence`` on.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, count])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        sequence = cursor.fetchone()
        start = max(highest, sequence[0] if sequence else 0) + 1
    return list(range(start, start + count))


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence],
                *, staged: bool = False) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, Python values).

    ``staged`` routes SQLite inserts through a staging table and one ``INSERT … SELECT``;
    use it for tables with row triggers (the full-text index), where it saves the flush
    per statement. PostgreSQL always copies.
    """
    if not rows:
        return
    rows = adapt_rows(rows, column_adapters(model, columns))
    table = model._meta.db_table
    column_list = ", ".join(f'"{column}"' for column in columns)
    if is_postgresql():
        _copy(table, columns, rows)
        return
    raw = _raw_sqlite()
    placeholders = ", ".join("?" for _ in columns)
    if not staged:
        raw.executemany(f'INSERT INTO "{table}" ({column_list}) VALUES ({placeholders})', rows)
        return
    stage = _sqlite_stage(raw, table, columns)
    raw.executemany(f'INSERT INTO "{stage}" ({column_list}) VALUES ({placeholders})', rows)
    raw.execute(f'INSERT INTO "{table}" ({column_list}) SELECT {column_list} FROM "{stage}"')
    raw.execute(f'DELETE FROM "{stage}"')


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Set ``columns[1:]`` on the rows whose primary key is ``columns[0]`` (``"id"``)."""
    if not rows:
        return
    if columns[0] != "id":
        raise ValueError("the first column of an update is the primary key")
    rows = adapt_rows(rows, column_adapters(model, columns))
    table = model._meta.db_table
    column_list = ", ".join(f'"{column}"' for column in columns)
    assignments = ", ".join(f'"{column}" = stage."{column}"' for column in columns[1:])
    stage = _stage_name(table, columns)
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{stage}" ON COMMIT DELETE ROWS '
                           f'AS SELECT {column_list} FROM "{table}" WITH NO DATA')
            cursor.execute(f'TRUNCATE "{stage}"')
        _copy(stage, columns, rows)
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET {assignments} FROM "{stage}" AS stage '
                           f'WHERE "{table}"."id" = stage."id"')
            cursor.execute(f'TRUNCATE "{stage}"')
        return
    raw = _raw_sqlite()
    _sqlite_stage(raw, table, columns)
    placeholders = ", ".join("?" for _ in columns)
    raw.executemany(f'INSERT INTO "{stage}" ({column_list}) VALUES ({placeholders})', rows)
    raw.execute(f'UPDATE "{table}" SET {assignments} FROM "{stage}" AS stage WHERE "{table}"."id" = stage."id"')
    raw.execute(f'DELETE FROM "{stage}"')


def delete_where_in(model: type[models.Model], column: str, values: Sequence) -> None:
    """``DELETE FROM table WHERE column IN values`` in batches the engine accepts."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            batch = list(values[start:start + 5000])
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({placeholders})', batch)


def _copy(table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    column_list = ", ".join(f'"{column}"' for column in columns)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def _raw_sqlite():
    connection.ensure_connection()
    return connection.connection.cursor()


def _stage_name(table: str, columns: Sequence[str]) -> str:
    """One staging table per table and column list (a connection may stage several shapes)."""
    return f"{STAGE_PREFIX}{table}_{zlib.crc32(','.join(columns).encode()):08x}"


def _sqlite_stage(raw, table: str, columns: Sequence[str]) -> str:
    """A temporary table with the same column types (affinities) as ``table``'s columns."""
    stage = _stage_name(table, columns)
    column_list = ", ".join(f'"{column}"' for column in columns)
    raw.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" AS SELECT {column_list} FROM "{table}" WHERE 0')
    return stage


# ======================================================================================
# Secondary indexes and the full-text index, suspended for a large import
# ======================================================================================
# A million inserts into a table with a dozen secondary indexes and a full-text index cost
# a B-tree descent per index per row; building each index once from the finished table
# costs a sort. ``suspend_indexes`` drops what only reads need (non-unique indexes, the
# SQLite FTS5 triggers, the PostgreSQL GIN index) and returns the statements that bring
# them back; the caller stores those in the same transaction, so a crash between the two
# can always be repaired by ``restore_indexes`` (an import resume, or ``guanxi migrate``).
# Unique indexes stay: they guard data, and the import's dedup lookups use them and the
# indexes named in ``keep``. On PostgreSQL the foreign keys of ``tables`` go too: each
# row's deferred check (a lookup and a lock of the referenced row, at commit) doubled the
# time of a bulk insert, while adding a key back checks every row in one join.
FTS_TABLES = {"core_contact": "core_contact_fts", "core_account": "core_account_fts"}


def suspend_indexes(tables: Sequence[str], keep: Sequence[str] = ()) -> list[dict]:
    """Drop the non-unique indexes of ``tables`` (except ``keep``, given by their columns as
    ``"table.column"``), their full-text triggers (SQLite) and their foreign keys
    (PostgreSQL); returns what ``restore_indexes`` needs."""
    suspended: list[dict] = []
    kept = set(keep)
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                           "AND tablename = ANY(%s) ORDER BY indexname", [list(tables)])
            for table, name, definition in cursor.fetchall():
                if definition.startswith("CREATE UNIQUE") or _index_columns(definition) in kept_for(table, kept):
                    continue
                suspended.append({"kind": "index", "table": table, "name": name, "sql": definition})
            cursor.execute("SELECT child.relname, constraint_.conname, pg_get_constraintdef(constraint_.oid) "
                           "FROM pg_constraint constraint_ JOIN pg_class child ON child.oid = constraint_.conrelid "
                           "JOIN pg_namespace namespace ON namespace.oid = child.relnamespace "
                           "WHERE constraint_.contype = 'f' AND namespace.nspname = current_schema() "
                           "AND child.relname = ANY(%s) ORDER BY constraint_.conname", [list(tables)])
            for table, name, definition in cursor.fetchall():
                suspended.append({"kind": "foreign_key", "table": table, "name": name, "sql": definition})
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no DDL while FK checks are pending
            for item in suspended:
                if item["kind"] == "index":
                    cursor.execute(f'DROP INDEX IF EXISTS "{item["name"]}"')
                else:
                    cursor.execute(f'ALTER TABLE "{item["table"]}" DROP CONSTRAINT IF EXISTS "{item["name"]}"')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return suspended
        placeholders = ", ".join(["%s"] * len(tables))
        cursor.execute(f"SELECT type, tbl_name, name, sql FROM sqlite_master WHERE tbl_name IN ({placeholders}) "
                       f"AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name", list(tables))
        for kind, table, name, sql in cursor.fetchall():
            if kind == "index" and (sql.upper().startswith("CREATE UNIQUE")
                                    or _index_columns(sql) in kept_for(table, kept)):
                continue
            if kind == "trigger" and not name.startswith(f"{FTS_TABLES.get(table, '-')}_"):
                continue  # only the full-text triggers: others (if any) enforce rules
            suspended.append({"kind": kind, "table": table, "name": name, "sql": sql})
        for item in suspended:
            cursor.execute(f'DROP {item["kind"].upper()} IF EXISTS "{item["name"]}"')
        for table in sorted({item["table"] for item in suspended if item["kind"] == "trigger"}):
            suspended.append({"kind": "fts", "table": table, "name": FTS_TABLES[table], "sql": ""})
    return suspended


def _add_foreign_key(cursor, item: dict) -> None:
    """Add a suspended foreign key back (unless it is there), checking every row in one join.

    Should a row written meanwhile refer to a record deleted during the import (what the
    suspended check would have refused at that chunk's commit), the key is added without
    checking the existing rows, so that it guards every later write, and the rows are logged.
    """
    cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass",
                   [item["name"], item["table"]])
    if cursor.fetchone():
        return
    statement = f'ALTER TABLE "{item["table"]}" ADD CONSTRAINT "{item["name"]}" {item["sql"]}'
    try:
        with transaction.atomic():
            cursor.execute(statement)
    except IntegrityError as error:
        logger.warning("%s.%s refers to missing rows; the foreign key is back for new rows only: %s",
                       item["table"], item["name"], error)
        cursor.execute(f"{statement} NOT VALID")


def kept_for(table: str, kept: set[str]) -> set[str]:
    return {name.split(".", 1)[1] for name in kept if name.split(".", 1)[0] == table}


def _index_columns(sql: str) -> str:
    """``"number"`` of ``CREATE INDEX … ON "t" ("number")`` (several columns joined by commas)."""
    inside = sql[sql.rfind("(") + 1: sql.rfind(")")] if "(" in sql else ""
    return ",".join(part.split()[0].strip('"') for part in inside.split(",") if part.strip())


def _if_not_exists(sql: str) -> str:
    return sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)


def _build_on_own_connection(statements: list[str], failures: list[BaseException]) -> None:
    """Run ``statements`` on this thread's own connection, each committed by itself."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET maintenance_work_mem = '{POSTGRES_INDEX_MEMORY}'")
            for statement in statements:
                cursor.execute(statement)
    except BaseException as error:  # re-raised by the caller's thread
        failures.append(error)
    finally:
        connection.close()


# The full-text GIN index of a million contacts builds a fifth faster in 1 GB than in 256 MB.
POSTGRES_INDEX_MEMORY = "1GB"


def restore_indexes(suspended: Sequence[dict], *, side_connection: bool = False) -> None:
    """Bring back what ``suspend_indexes`` dropped, each index built in one pass over its
    table; idempotent (a second call, or one after a partial restore, changes nothing).

    ``side_connection`` (PostgreSQL; only for a caller whose own transaction holds no lock
    on the tables, i.e. that started outside any transaction): the GIN indexes are built on
    a second connection while this one builds the B-trees. A GIN build is not parallel
    (PostgreSQL 15) while the B-tree sorts are, so the two overlap on the cores; at a
    million contacts the full-text index is a third of the rebuild. Each GIN index is
    committed on its own; should this transaction fail, the next restore finds it there.
    """
    if not suspended:
        return
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{POSTGRES_INDEX_MEMORY}'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no DDL while FK checks are pending
            here = [_if_not_exists(item["sql"]) for item in suspended if item["kind"] == "index"]
            elsewhere = [sql for sql in here if " USING gin " in sql] if side_connection else []
            failures: list[BaseException] = []
            side = None
            if elsewhere and len(elsewhere) < len(here):
                here = [sql for sql in here if sql not in elsewhere]
                side = threading.Thread(target=_build_on_own_connection, args=(elsewhere, failures),
                                        name="guanxi-index-build", daemon=True)
                side.start()
            try:
                for sql in here:
                    cursor.execute(sql)
            finally:
                if side is not None:
                    side.join()
            if failures:
                raise failures[0]
            for item in suspended:
                if item["kind"] == "foreign_key":
                    _add_foreign_key(cursor, item)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in sorted({item["table"] for item in suspended if item["kind"] == "index"}):
                cursor.execute(f'ANALYZE "{table}"')
            return
        for item in suspended:
            if item["kind"] == "index":
                cursor.execute(item["sql"].replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        for item in suspended:
            if item["kind"] == "fts":  # re-read the whole content table into the full-text index
                cursor.execute(f'INSERT INTO "{item["name"]}"("{item["name"]}") VALUES (\'rebuild\')')
        for item in suspended:
            if item["kind"] == "trigger":
                cursor.execute(item["sql"].replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1))
