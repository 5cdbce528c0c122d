"""Incremental warehouse refresh after 1 % of 1,000,000 customers changed (SPEC §7).

Builds (once, cached under ``var/bench/``) a SQLite database of ``--size`` contacts with
demographics and ``--interactions`` interactions, then:

1. builds the DuckDB warehouse from scratch — the baseline, a full rebuild;
2. changes 1 % of the customers (a new name and change time, as ``contact_update`` does)
   and logs 1 % as many new interactions;
3. refreshes incrementally and times it.

Prints the two timings and, last, one JSON line::

    {"benchmark": "warehouse_refresh", "value": <incremental s>, "unit": "s", "target": null,
     "baseline": "full rebuild", "baseline_value": <full s>, "ratio": <full / incremental>, "size": 1000000,
     "changed": 10000, "cpu_seconds": …, "baseline_cpu_seconds": …, "load_average": …}

CPU seconds (this process, all threads) and the load average are printed beside the wall
times because the machine it runs on may be shared.

The issue sets no number for this benchmark, so the target is null; the ratio says how much
the watermark-based refresh saves over rebuilding.

    .venv/bin/python benchmarks/warehouse_refresh.py [--size 1000000] [--interactions 1000000]
        [--changed 0.01] [--rebuild]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "var" / "bench"
DATASET_VERSION = 1
BATCH = 20_000
#: The generated data's "now": every record is created and last changed before it.
DATASET_NOW = datetime.datetime(2026, 1, 15, 9, 0, tzinfo=datetime.UTC)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="customers (contacts)")
    parser.add_argument("--interactions", type=int, default=1_000_000, help="interactions in the log")
    parser.add_argument("--changed", type=float, default=0.01, help="share of customers changed")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rebuild", action="store_true", help="generate the database again even if cached")
    return parser.parse_args(argv)


def setup_django(arguments) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    database = BENCH_DIR / f"warehouse_refresh-{arguments.size}-{arguments.interactions}-v{DATASET_VERSION}.sqlite3"
    if arguments.rebuild and database.exists():
        database.unlink()
    os.environ.update(GUANXI_DATA_DIR=str(BENCH_DIR), GUANXI_SQLITE_PATH=str(database),
                      GUANXI_WAREHOUSE_PATH=str(BENCH_DIR / f"warehouse_refresh-{arguments.size}.duckdb"),
                      GUANXI_WAREHOUSE_ENGINE="duckdb", GUANXI_INPROCESS_WORKER="0", GUANXI_LOG_LEVEL="WARNING")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()
    return database


def contact_rows(columns: list[str], defaults: dict, size: int, rng: random.Random, now: datetime.datetime):
    from guanxi.core import demo
    from guanxi.core.normalize import search_text

    incomes = ("low", "lower_middle", "middle", "upper_middle", "high")
    occupations = ("engineer", "teacher", "doctor", "farmer", "manager", "student", "driver", "designer")
    for number in range(1, size + 1):
        family = rng.choice(demo.FAMILY_NAMES)
        given = rng.choice(demo.GIVEN_CHARACTERS) + rng.choice(demo.GIVEN_CHARACTERS)
        created = now - datetime.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        values = {**defaults, "family_name": family, "given_name": given, "full_name": family + given,
                  "search_text": search_text(family + given), "gender": rng.choice(("female", "male")),
                  "income_band": rng.choice(incomes), "occupation": rng.choice(occupations),
                  "birth_date": datetime.date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28)),
                  "created_at": created, "updated_at": created}
        yield tuple(values[column] for column in columns)


def build(arguments) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from guanxi.core import bulk_writes
    from guanxi.core.models import Contact
    from guanxi.interactions.models import Interaction

    call_command("migrate", verbosity=0)
    if Contact.objects.exists():
        undo_earlier_changes(arguments)
        return
    rng = random.Random(arguments.seed)
    now = DATASET_NOW
    fields = [field for field in Contact._meta.concrete_fields if field.column != "id"]
    columns = [field.column for field in fields]
    defaults = {field.column: field.get_default() for field in fields}
    started = time.perf_counter()
    rows = contact_rows(columns, defaults, arguments.size, rng, now)
    while True:
        batch = [row for _index, row in zip(range(BATCH), rows, strict=False)]
        if not batch:
            break
        with transaction.atomic():
            bulk_writes.insert_rows(Contact, columns, batch, staged=True)
    channels = ("phone", "email", "sms", "chat", "web", "visit")
    interaction_fields = [field for field in Interaction._meta.concrete_fields if field.column != "id"]
    interaction_columns = [field.column for field in interaction_fields]
    interaction_defaults = {field.column: field.get_default() for field in interaction_fields}
    for start in range(0, arguments.interactions, BATCH):
        batch = []
        for _number in range(start, min(start + BATCH, arguments.interactions)):
            when = now - datetime.timedelta(seconds=rng.randrange(365 * 86400))
            values = {**interaction_defaults, "contact_id": 1 + rng.randrange(arguments.size),
                      "channel": rng.choice(channels), "direction": rng.choice(("in", "out")),
                      "occurred_at": when, "created_at": when, "duration_seconds": rng.randrange(900)}
            batch.append(tuple(values[column] for column in interaction_columns))
        with transaction.atomic():
            bulk_writes.insert_rows(Interaction, interaction_columns, batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"generated {arguments.size:,} customers and {arguments.interactions:,} interactions in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)


def undo_earlier_changes(arguments) -> None:
    """Give the cached database back the state it was generated in.

    An earlier run's changes carry the highest change time, so they would sit inside the
    watermark's safety overlap of this run's refresh and be read again beside this run's
    1 %; its extra interactions would make the log grow run after run.
    """
    from django.db import transaction
    from django.db.models import F

    from guanxi.core.models import Contact
    from guanxi.interactions.models import Interaction

    with transaction.atomic():
        aged = Contact.objects.filter(updated_at__gt=DATASET_NOW).update(updated_at=F("created_at"))
        removed, _by_model = Interaction.objects.filter(pk__gt=arguments.interactions).delete()
    if aged or removed:
        print(f"undid an earlier run: {aged:,} customers' change times, {removed:,} interactions", file=sys.stderr)


def change_customers(arguments) -> int:
    """Rename 1 % of the customers with a fresh change time, and log new interactions."""
    from django.db import connection, transaction
    from django.utils import timezone

    from guanxi.core import bulk_writes
    from guanxi.core.models import Contact
    from guanxi.interactions.models import Interaction

    rng = random.Random(arguments.seed + int(time.time()))
    count = max(1, int(arguments.size * arguments.changed))
    chosen = rng.sample(range(1, arguments.size + 1), count)
    now = timezone.now()
    with transaction.atomic():
        bulk_writes.update_rows(Contact, ("id", "full_name", "updated_at"),
                                [(pk, f"Changed {pk} {now:%H%M%S}", now) for pk in chosen])
        Interaction.objects.bulk_create([
            Interaction(contact_id=rng.choice(chosen), channel="phone", occurred_at=now, created_at=now)
            for _number in range(max(1, int(arguments.interactions * arguments.changed)))], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return count


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    setup_django(arguments)
    build(arguments)
    from guanxi.analytics import warehouse

    started, cpu_started = time.perf_counter(), time.process_time()
    full = warehouse.refresh(full=True)
    full_seconds, full_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"full rebuild: {full_seconds:.2f} s, {full_cpu:.2f} CPU s "
          f"({sum(table.rows_read for table in full.tables):,} rows)", file=sys.stderr)

    changed = change_customers(arguments)
    started, cpu_started = time.perf_counter(), time.process_time()
    incremental = warehouse.refresh()
    incremental_seconds, incremental_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    read = {table.name: table.rows_read for table in incremental.tables if table.rows_read}
    print(f"incremental refresh after {changed:,} changed customers: {incremental_seconds:.2f} s, "
          f"{incremental_cpu:.2f} CPU s "
          f"(rows read: {read})", file=sys.stderr)
    customers_read = next(table.rows_read for table in incremental.tables if table.name == "dim_customer")
    if customers_read < changed:
        print(f"error: only {customers_read} of {changed} changed customers were read", file=sys.stderr)
        return 1
    print(json.dumps({"benchmark": "warehouse_refresh", "value": round(incremental_seconds, 3), "unit": "s",
                      "target": None, "baseline": "full rebuild", "baseline_value": round(full_seconds, 3),
                      "ratio": round(full_seconds / incremental_seconds, 2), "size": arguments.size,
                      "changed": changed, "cpu_seconds": round(incremental_cpu, 3),
                      "baseline_cpu_seconds": round(full_cpu, 3), "load_average": round(os.getloadavg()[0], 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
