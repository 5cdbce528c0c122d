"""Forecast over 1,000,000 opportunities (SPEC §2: ≤ 2 s on SQLite and on PostgreSQL).

Fills a fresh database with ``--size`` opportunities of 60 reps in 6 teams and
territories, spread over 24 months of close dates, every stage of the default pipeline
(about a fifth closed), mixed currencies and forecast categories. Rows are written with the
database's bulk path (``executemany`` on SQLite, ``COPY`` on PostgreSQL); the benchmark
times the read, not the load.

Measured: ``guanxi.sales.forecasting.forecast`` as an administrator — weighted pipeline,
commit, best case and won business per month and per rep over every deal — the median of
``--repeat`` runs after one warm-up. The same call as a sales manager (team scope) and per
quarter and territory are reported alongside.

The baseline is the straightforward Python way: iterate the deals through the ORM and add
them up per period and rep in dictionaries, timed on ``--sample`` deals and extrapolated to
``--size``.

    .venv/bin/python benchmarks/pipeline_forecast.py [--size 1000000] [--sample 20000]
        [--postgres postgres://postgres@127.0.0.1:55434/postgres]

Prints one JSON line per database (PostgreSQL first when measured, SQLite last):
{"benchmark": "pipeline_forecast", "database": "sqlite", "value": seconds, "unit": "s", "target": 2.0,
 "baseline": "...", "baseline_value": seconds, "ratio": ..., "size": 1000000}. Each database
is measured in its own process (Django reads its database settings once per process).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / "var" / "bench" / "forecast"
TARGET_SECONDS = 2.0
SEED = 20260301
REPS, TEAMS = 60, 6
CHUNK = 20_000


def _setup_people():
    from guanxi.core import services
    from guanxi.core.models import Role, Team, Territory

    territories = [Territory.objects.create(code=f"bench-{index}", name=f"Region {index}") for index in range(TEAMS)]
    teams = [Team.objects.create(name=f"Bench team {index}", territory=territories[index]) for index in range(TEAMS)]
    admin = services.user_create(actor=None, username="bench-admin", password="bench-password-42", role=Role.ADMIN,
                                 is_superuser=True)
    reps = [services.user_create(actor=None, username=f"bench-rep-{index}", password="bench-password-42",
                                 role=Role.SALES_REP, team=teams[index % TEAMS],
                                 territory=territories[index % TEAMS]) for index in range(REPS)]
    manager = services.user_create(actor=None, username="bench-manager", password="bench-password-42",
                                   role=Role.SALES_MANAGER, team=teams[0], territory=territories[0])
    Team.objects.filter(pk=teams[0].pk).update(manager=manager)
    return admin, manager, reps


def _rows(size: int, reps, stages, pipeline_id: int):
    """Opportunity rows in column order of ``COLUMNS``."""
    from guanxi.sales.models import ForecastCategory, StageKind

    rng = random.Random(SEED)
    today = datetime.date.today().replace(day=1)
    rates = {"CNY": Decimal("1"), "USD": Decimal("7.20"), "EUR": Decimal("7.80")}
    now = datetime.datetime.now(datetime.timezone.utc)
    open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
    won = next(stage for stage in stages if stage.kind == StageKind.WON)
    lost = next(stage for stage in stages if stage.kind == StageKind.LOST)
    for index in range(size):
        rep = reps[index % len(reps)]
        roll = rng.random()
        stage = won if roll < 0.12 else lost if roll < 0.2 else open_stages[rng.randrange(len(open_stages))]
        currency = "CNY" if rng.random() < 0.8 else rng.choice(("USD", "EUR"))
        amount = Decimal(rng.randrange(5, 2000) * 500)
        close = today + datetime.timedelta(days=rng.randrange(-365, 365))
        category = stage.forecast_category
        if stage.kind == StageKind.OPEN and rng.random() < 0.1:
            category = ForecastCategory.OMITTED
        closed = stage.kind != StageKind.OPEN
        yield (f"Bench deal {index}", pipeline_id, stage.pk, str(amount), currency, str(amount * rates[currency]),
               stage.probability, category, close, close.year * 100 + close.month, closed,
               stage.kind == StageKind.WON, now if closed else None, "price" if closed else "", now, now, 1, rep.pk,
               rep.team_id, rep.territory_id)


COLUMNS = ("name", "pipeline_id", "stage_id", "amount", "currency", "amount_base", "probability", "forecast_category",
           "close_date", "close_month", "is_closed", "is_won", "closed_at", "close_reason", "stage_entered_at", "created_at",
           "version", "owner_id", "team_id", "territory_id")
DEFAULTS = {"next_step": "", "description": "", "close_note": "", "campaign_name": "", "updated_at": None}


def _load(size: int, reps) -> float:
    """Write ``size`` opportunities with the database's bulk path; returns seconds."""
    from django.db import connection, transaction

    from guanxi.sales.models import Opportunity, Pipeline

    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.all())
    columns = COLUMNS + tuple(DEFAULTS)
    table = Opportunity._meta.db_table
    # As any bulk load does: secondary indexes are built once after the rows, not row by row.
    indexes = list(Opportunity._meta.indexes)
    started = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(Opportunity, index)
    rows = _rows(size, reps, stages, pipeline.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + ("", "", "", "", row[14]))
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            batch = []
            for row in rows:
                batch.append(row + ("", "", "", "", row[14]))
                if len(batch) == CHUNK:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(Opportunity, index)
    with connection.cursor() as cursor:
        # What autovacuum does shortly after a bulk load: statistics, and on PostgreSQL the
        # visibility map too, without which an index-only scan still visits every heap row.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return time.perf_counter() - started


def _timed(function, repeat: int) -> float:
    function()  # warm the caches, as a page hit twice would
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _python_forecast(deals) -> dict:
    """The baseline: every deal through the ORM, added up in Python."""
    totals: dict = {}
    for deal in deals:
        key = (deal.close_date.strftime("%Y-%m"), deal.owner_id)
        row = totals.setdefault(key, {"pipeline": Decimal(0), "weighted": Decimal(0), "commit": Decimal(0),
                                      "best_case": Decimal(0), "won": Decimal(0)})
        if not deal.is_closed and deal.forecast_category != "omitted":
            row["pipeline"] += deal.amount_base
            row["weighted"] += deal.amount_base * deal.probability / 100
            if deal.forecast_category in ("commit", "best_case"):
                row["best_case"] += deal.amount_base
            if deal.forecast_category == "commit":
                row["commit"] += deal.amount_base
        if deal.is_won:
            row["won"] += deal.amount_base
    return totals


def measure(database: str, size: int, sample: int, repeat: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from guanxi.sales import forecasting
    from guanxi.sales.models import Opportunity

    call_command("migrate", verbosity=0)
    admin, manager, reps = _setup_people()
    load_seconds = _load(size, reps)
    assert Opportunity.objects.count() == size

    month_by_rep = forecasting.ForecastQuery(period="month", group_by="owner")
    rows = forecasting.forecast(admin, month_by_rep)
    seconds = _timed(lambda: forecasting.forecast(admin, month_by_rep), repeat)
    manager_seconds = _timed(lambda: forecasting.forecast(manager, month_by_rep), repeat)
    quarter_seconds = _timed(lambda: forecasting.forecast(
        admin, forecasting.ForecastQuery(period="quarter", group_by="territory")), repeat)

    sample_ids = Opportunity.objects.order_by("id").values_list("id", flat=True)[:sample]
    last_id = list(sample_ids)[-1]
    baseline_started = time.perf_counter()
    _python_forecast(Opportunity.objects.filter(id__lte=last_id).iterator(chunk_size=2000))
    baseline = (time.perf_counter() - baseline_started) / sample * size

    return {"benchmark": "pipeline_forecast", "database": database, "value": round(seconds, 3), "unit": "s",
            "target": TARGET_SECONDS,
            "baseline": f"per-row Python loop over the ORM adding up each deal, {sample:,}-deal sample extrapolated",
            "baseline_value": round(baseline, 1), "ratio": round(baseline / seconds, 1), "size": size,
            "engine": connection.vendor, "rows": len(rows), "team_scope_s": round(manager_seconds, 3),
            "quarter_by_territory_s": round(quarter_seconds, 3), "load_s": round(load_seconds, 1)}


def run_child(database: str, size: int, sample: int, repeat: int, postgres_url: str) -> dict:
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_LOG_LEVEL="WARNING")
    created_database = None
    sqlite_path = WORK_DIR / f"forecast-{os.getpid()}.sqlite3"
    if database == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        environment.pop("DATABASE_URL", None)
        environment["GUANXI_SQLITE_PATH"] = str(sqlite_path)
    else:
        import psycopg

        created_database = f"guanxi_bench_forecast_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin_connection:
            admin_connection.execute(f'CREATE DATABASE "{created_database}"')
        base, _slash, _name = postgres_url.rpartition("/")
        environment["DATABASE_URL"] = f"{base}/{created_database}"
    environment["GUANXI_DATA_DIR"] = str(WORK_DIR / "data")
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", database, "--size", str(size), "--sample", str(sample),
             "--repeat", str(repeat)],
            env=environment, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        if database == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        elif created_database:
            import psycopg

            with psycopg.connect(postgres_url, autocommit=True) as admin_connection:
                admin_connection.execute(f'DROP DATABASE IF EXISTS "{created_database}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="deals of the per-row baseline")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after the warm-up (median reported)")
    parser.add_argument("--postgres", default=os.environ.get("GUANXI_BENCH_POSTGRES_URL", ""),
                        help="PostgreSQL server URL (a fresh database is created on it and dropped after)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        sys.path.insert(0, str(PROJECT_DIR))
        print(json.dumps(measure(arguments.child, arguments.size, min(arguments.sample, arguments.size),
                                 arguments.repeat)))
        return 0
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    lines = []
    if arguments.postgres and arguments.only in ("", "postgresql"):
        lines.append(run_child("postgresql", arguments.size, arguments.sample, arguments.repeat, arguments.postgres))
    elif arguments.only != "sqlite":
        print("PostgreSQL skipped: give --postgres URL or set GUANXI_BENCH_POSTGRES_URL", file=sys.stderr)
    if arguments.only in ("", "sqlite"):
        lines.append(run_child("sqlite", arguments.size, arguments.sample, arguments.repeat, ""))
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0 if all(line["value"] <= TARGET_SECONDS for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
