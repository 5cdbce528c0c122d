"""The analytic warehouse: a star schema of the operational data (``schema``), loaded
incrementally (``loader``) into an embedded DuckDB file — or, when configured, into a
schema of the PostgreSQL database — and queried by reports with one SQL text for both.

Settings (environment variables of the same name work too):

- ``GUANXI_WAREHOUSE_ENGINE``: ``duckdb`` (default) or ``postgresql`` (only when the
  operational database is PostgreSQL).
- ``GUANXI_WAREHOUSE_PATH``: the DuckDB file; default ``GUANXI_DATA_DIR/warehouse.duckdb``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import connection

from guanxi.analytics.warehouse.loader import (  # noqa: F401  (re-exported)
    DuckDBStore, PostgresStore, ProgressCallback, RefreshResult, WarehouseBusy, WarehouseError, WarehouseNotBuilt,
    refresh as _refresh,
)

ENGINES = ("duckdb", "postgresql")


def engine_name() -> str:
    name = getattr(settings, "GUANXI_WAREHOUSE_ENGINE", None) or os.environ.get("GUANXI_WAREHOUSE_ENGINE") or "duckdb"
    if name not in ENGINES:
        raise WarehouseError(f"GUANXI_WAREHOUSE_ENGINE must be one of {ENGINES}, not {name!r}")
    if name == "postgresql" and connection.vendor != "postgresql":
        raise WarehouseError("GUANXI_WAREHOUSE_ENGINE=postgresql needs DATABASE_URL to point at PostgreSQL")
    return name


def duckdb_path() -> Path:
    configured = getattr(settings, "GUANXI_WAREHOUSE_PATH", None) or os.environ.get("GUANXI_WAREHOUSE_PATH")
    return Path(configured) if configured else Path(settings.DATA_DIR) / "warehouse.duckdb"


def store() -> DuckDBStore | PostgresStore:
    return PostgresStore() if engine_name() == "postgresql" else DuckDBStore(duckdb_path())


def query(sql: str, params: list | tuple = ()) -> tuple[list[str], list[tuple]]:
    """Run report SQL (``?`` placeholders) on the warehouse: (column names, rows)."""
    return store().query(sql, params)


def query_columns(sql: str, params: list | tuple = ()) -> dict:
    """Like ``query``, as one NumPy array per column (for the models)."""
    return store().query_columns(sql, params)


def refresh(*, full: bool = False, progress: ProgressCallback | None = None) -> RefreshResult:
    return _refresh(store(), full=full, progress=progress)


def is_built() -> bool:
    return store().exists()
