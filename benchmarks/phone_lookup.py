"""Caller lookup by phone among 1,000,000 contacts (SPEC §5: p99 ≤ 5 ms).

Builds a database of ``--size`` contacts through the real import path (the generator of
``benchmarks/import_contacts.py`` and ``importing.import_file``) — or reuses the one
``benchmarks/import_contacts.py`` or a previous run left under ``var/bench/phone/`` — then
times what the CTI layer does when a
call comes in: ``selectors.contacts_by_phone(ANI)``, which normalizes the number to
E.164 and finds every contact reachable at it through the ``ContactPhone.number`` index.
The numbers looked up are 90 % known numbers written in another format than stored
(``138 0000 0001``, ``0086…``, ``+86 138-…``) and 10 % unknown numbers, after a warm-up.

The baseline is the same lookup without the phone index: a scan of every contact's
phone with ``LIKE '%<digits>'`` (what a CRM storing phones as typed must do), timed on a
smaller sample because each one reads the whole table.

    .venv/bin/python benchmarks/phone_lookup.py [--size 1000000] [--lookups 20000]
        [--postgres postgres://user@127.0.0.1:55432/postgres]

Prints one JSON line per database (PostgreSQL first when given, SQLite last):
{"benchmark": "phone_lookup_sqlite", "value": p99 ms, "unit": "ms", "target": 5, "p50": …,
 "baseline": "…", "baseline_value": p99 ms, "ratio": …, "size": 1000000}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / "var" / "bench" / "phone"
TARGET_MS = 5.0
sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_contacts  # noqa: E402  (the contact generator shared with the import benchmark)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def caller_numbers(size: int, count: int, seed: int = 7) -> list[tuple[str, bool]]:
    """(number as the telephone network or an agent might give it, known?) pairs."""
    generator = random.Random(seed)
    prefixes = import_contacts.MOBILE_PREFIXES
    numbers = []
    for _attempt in range(count):
        if generator.random() < 0.9:
            index = generator.randrange(size)
            national = f"{prefixes[index % len(prefixes)]}{index:08d}"
            known = True
        else:
            national = f"{generator.choice(prefixes)}{generator.randrange(size, 10**8):08d}"
            known = False
        style = generator.randrange(4)
        text = (national, f"+86{national}", f"0086 {national[:3]} {national[3:7]} {national[7:]}",
                f"{national[:3]}-{national[3:7]}-{national[7:]}")[style]
        numbers.append((text, known))
    return numbers


def measure(size: int, lookups: int, baseline_lookups: int, csv_path: Path, build: bool) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from guanxi.core import importing, selectors, services
    from guanxi.core.models import Contact, Role, User

    call_command("migrate", verbosity=0)
    if build or Contact.objects.count() < size:  # the import benchmark's database also holds its sample
        admin = User.objects.filter(username="bench-admin").first() or services.user_create(
            actor=None, username="bench-admin", password="bench-password-42", role=Role.ADMIN, is_superuser=True)
        started = time.perf_counter()
        importing.import_file(actor=admin, path=csv_path, object_type="contact", skip_invalid=True)
        print(f"imported {size:,} contacts in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    assert Contact.objects.count() >= size

    calls = caller_numbers(size, lookups + 500)
    for text, _known in calls[:500]:  # warm-up: caches, prepared statements, OS pages
        selectors.contacts_by_phone(text)
    timings, misses = [], 0
    for text, known in calls[500:]:
        started = time.perf_counter()
        found = selectors.contacts_by_phone(text)
        timings.append((time.perf_counter() - started) * 1000)
        if known and len(found) != 1:
            misses += 1
    assert misses == 0, f"{misses} known numbers not found"

    scan_timings = []
    with connection.cursor() as cursor:
        for text, _known in calls[500:500 + baseline_lookups]:
            digits = "".join(character for character in text if character.isdigit())[-11:]
            started = time.perf_counter()
            cursor.execute("SELECT id FROM core_contact WHERE phone LIKE %s", ["%" + digits])
            cursor.fetchall()
            scan_timings.append((time.perf_counter() - started) * 1000)
    p99, baseline_p99 = percentile(timings, 0.99), percentile(scan_timings, 0.99)
    return {"benchmark": f"phone_lookup_{connection.vendor}", "value": round(p99, 3), "unit": "ms",
            "target": TARGET_MS, "p50": round(percentile(timings, 0.5), 3),
            "mean": round(statistics.fmean(timings), 3), "lookups": len(timings),
            "baseline": "unindexed scan: LIKE '%digits' over every contact's phone",
            "baseline_value": round(baseline_p99, 1), "baseline_p50": round(percentile(scan_timings, 0.5), 1),
            "ratio": round(baseline_p99 / p99, 1), "size": size}


def run_child(database: str, arguments, csv_path: Path) -> dict:
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_LOG_LEVEL="WARNING",
                       GUANXI_DATA_DIR=str(WORK_DIR / "data"))
    created_database = None
    if database == "sqlite":
        environment.pop("DATABASE_URL", None)
        environment["GUANXI_SQLITE_PATH"] = str(WORK_DIR / f"contacts-{arguments.size}.sqlite3")
    else:
        import psycopg

        created_database = f"guanxi_bench_phone_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(arguments.postgres, autocommit=True) as admin_connection:
            admin_connection.execute(f'CREATE DATABASE "{created_database}"')
        base, _slash, _name = arguments.postgres.rpartition("/")
        environment["DATABASE_URL"] = f"{base}/{created_database}"
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", "--size", str(arguments.size), "--lookups", str(arguments.lookups),
             "--baseline-lookups", str(arguments.baseline_lookups), "--file", str(csv_path)],
            env=environment, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
        sys.stderr.write(completed.stderr[-2000:])
        if completed.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{completed.stdout}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        if created_database:
            import psycopg

            with psycopg.connect(arguments.postgres, autocommit=True) as admin_connection:
                admin_connection.execute(f'DROP DATABASE IF EXISTS "{created_database}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--baseline-lookups", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("GUANXI_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        sys.path.insert(0, str(PROJECT_DIR))
        print(json.dumps(measure(arguments.size, arguments.lookups, arguments.baseline_lookups,
                                 Path(arguments.file), build=False)))
        return 0
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = import_contacts.WORK_DIR / f"contacts-{arguments.size}.csv"
    if not csv_path.exists():
        import_contacts.WORK_DIR.mkdir(parents=True, exist_ok=True)
        import_contacts.write_file(csv_path, arguments.size)
    lines = []
    if arguments.postgres:
        lines.append(run_child("postgresql", arguments, csv_path))
    lines.append(run_child("sqlite", arguments, csv_path))
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0 if all(line["value"] <= TARGET_MS for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
