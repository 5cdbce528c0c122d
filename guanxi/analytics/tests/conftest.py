"""Fixtures of the analytics tests: a private warehouse per test, on each engine that the
test run's database supports (DuckDB always; the PostgreSQL schema when the suite runs on
PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection


def _engines() -> list[str]:
    import os

    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    return ["duckdb", "postgresql"] if on_postgres else ["duckdb"]


@pytest.fixture(params=_engines())
def warehouse_engine(request, settings, tmp_path, db):
    """The engine name; the warehouse file (DuckDB) lives in the test's own folder."""
    if request.param == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL warehouse needs the suite to run on PostgreSQL")
    settings.GUANXI_WAREHOUSE_ENGINE = request.param
    settings.GUANXI_WAREHOUSE_PATH = str(tmp_path / "warehouse.duckdb")
    return request.param


@pytest.fixture
def duckdb_warehouse(settings, tmp_path, db):
    settings.GUANXI_WAREHOUSE_ENGINE = "duckdb"
    settings.GUANXI_WAREHOUSE_PATH = str(tmp_path / "warehouse.duckdb")
    return "duckdb"
