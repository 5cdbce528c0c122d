"""Import of 1,000,000 contacts from CSV (SPEC §1: ≤ 60 s on SQLite and on PostgreSQL).

Generates ``--size`` realistic contacts — Chinese and English names, +86 mobiles written
in assorted local formats (``138 1234 5678``, ``0138-1234-5678``, ``+86 138…``, ``0086…``),
mixed-case emails, external IDs, companies from a pool, stages, genders, birth dates and
tags — to a CSV file, then imports it through the real import path
(``guanxi.core.importing.import_file``: the all-or-nothing check of every row, then the
chunked, checkpointed upsert with normalization, dedup keys, the full-text index, phone
and email rows, tags and one audit entry) into a fresh database:

A million rows into an empty table takes the import's bulk path: rows parsed by worker
processes, the read-only and full-text indexes (on PostgreSQL also the foreign keys) dropped
for the bulk and rebuilt once at the end (inside the timed call), so the figure includes the
index builds and the keys' checks.

- SQLite: a new database file, migrated, with the settings' PRAGMAs;
- PostgreSQL: a new database on the server given by ``--postgres URL`` or
  ``GUANXI_BENCH_POSTGRES_URL`` (skipped when neither is set).

The baseline is a plain per-row ORM save loop — ``services.contact_create`` for each row,
as a form or the API would — timed on ``--sample`` further rows of the same file, on the
same database right after the bulk import (so both write into a million-row table), and
extrapolated to ``--size`` rows.

    .venv/bin/python benchmarks/import_contacts.py [--size 1000000] [--sample 2000]
        [--postgres postgres://user@127.0.0.1:55432/postgres]

The SQLite database is left in ``var/bench/phone/`` for ``benchmarks/phone_lookup.py``.

Prints one JSON line per database: PostgreSQL first (when measured), SQLite last:
{"benchmark": "import_contacts_sqlite", "value": seconds, "unit": "s", "target": 60,
 "baseline": "services.contact_create per row …", "baseline_value": seconds, "ratio": …,
 "size": 1000000, …, "phase_seconds": {"check": …, "write": …, "indexes": …}}: the
all-or-nothing check (parsing included), the checkpointed chunks, and the index rebuild
with the run's last step. Each database is measured in its own process (Django reads its
database settings once per process).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / "var" / "bench" / "import"
TARGET_SECONDS = 60
SEED = 20240601

FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN_CHARACTERS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建文斌宇浩凯健俊帆帅旭宁龙林欣佳琳晨雪梅婷颖思雨晓峰波亮"
ENGLISH_GIVEN = ["James", "Mary", "John", "Linda", "David", "Susan", "Michael", "Karen", "Daniel", "Emma", "Oliver",
                 "Sophia", "Lucas", "Mia", "Ethan", "Chloe", "Ryan", "Grace", "Kevin", "Amy"]
ENGLISH_FAMILY = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker",
                  "Hall", "Young", "King", "Wright", "Green", "Baker", "Adams", "Nelson", "Carter", "Evans"]
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "185", "186",
                   "187", "188", "189", "191", "198", "199"]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "example.cn"]
COMPANY_PARTS = (["华夏", "东方", "长城", "中信", "天宇", "金桥", "恒通", "新世纪", "海川", "远航", "Acme", "Global",
                  "Pacific", "Sino", "Bright"],
                 ["科技", "贸易", "电子", "物流", "咨询", "医药", "Tech", "Trading", "Logistics"],
                 ["有限公司", "集团", "股份有限公司", "Ltd", "Co., Ltd."])
STAGES = ["prospect", "new", "active", "active", "loyal", "at_risk", "lost"]
HEADERS = ["外部编号", "姓名", "手机", "邮箱", "公司", "性别", "生日", "生命周期", "标签"]


def formatted(number: str, style: int) -> str:
    if style == 0:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 1:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 2:
        return f"+86 {number}"
    if style == 3:
        return f"0086{number}"
    if style == 4:
        return f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"
    return number


def contact_rows(start: int, count: int, seed: int = SEED):
    generator = random.Random(seed + start)
    companies = [f"{a}{b}{c}" for a in COMPANY_PARTS[0] for b in COMPANY_PARTS[1] for c in COMPANY_PARTS[2]]
    for index in range(start, start + count):
        number = f"{MOBILE_PREFIXES[index % len(MOBILE_PREFIXES)]}{index:08d}"  # distinct for every index
        if generator.random() < 0.7:
            name = generator.choice(FAMILY_NAMES) + "".join(generator.choice(GIVEN_CHARACTERS)
                                                            for _ in range(generator.choice((1, 2, 2))))
            mail_user = f"user{index}"
        else:
            given, family = generator.choice(ENGLISH_GIVEN), generator.choice(ENGLISH_FAMILY)
            name = f"{given} {family}"
            mail_user = f"{given}.{family}{index}"
        email = f"{mail_user}@{generator.choice(MAIL_DOMAINS)}"
        if generator.random() < 0.3:
            email = email.title()  # people type capitals; the import lower-cases them
        yield [
            f"EXT-{index:07d}", name, formatted(number, generator.randrange(6)), email,
            generator.choice(companies) if generator.random() < 0.8 else "",
            generator.choice(("男", "女", "M", "F", "")),
            f"{generator.randint(1950, 2005)}-{generator.randint(1, 12):02d}-{generator.randint(1, 28):02d}"
            if generator.random() < 0.6 else "",
            generator.choice(STAGES),
            generator.choice(("", "", "", "VIP", "newsletter", "VIP;展会")),
        ]


def write_file(path: Path, size: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for start in range(0, size, 100_000):
            writer.writerows(contact_rows(start, min(100_000, size - start)))


def services_data(row: list[str]) -> dict:
    """The same row as the per-row baseline hands it to ``services.contact_create``."""
    data = {"external_id": row[0], "full_name": row[1], "phone": row[2], "email": row[3],
            "lifecycle_stage": row[7], "consent_source": "import"}
    if row[8]:
        data["tags"] = [tag for tag in row[8].replace("；", ";").split(";") if tag]
    if row[6]:
        import datetime

        data["birth_date"] = datetime.date.fromisoformat(row[6])
    data["gender"] = {"男": "male", "女": "female", "M": "male", "F": "female"}.get(row[5], "")
    return data


# ======================================================================================
# One database, in its own process
# ======================================================================================
def measure(database: str, csv_path: Path, size: int, sample: int, chunk_size: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from guanxi.core import importing, services
    from guanxi.core.models import Account, Contact, Role

    call_command("migrate", verbosity=0)
    admin = services.user_create(actor=None, username="bench-admin", password="bench-password-42",
                                 role=Role.ADMIN, is_superuser=True)
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    phase_ends: dict[str, float] = {}

    def progress(phase: str, _done: int, _total: int) -> None:
        phase_ends[phase] = time.perf_counter()   # the check, then each committed chunk

    started = time.perf_counter()
    result = importing.import_file(actor=admin, path=csv_path, object_type="contact", chunk_size=chunk_size,
                                   progress=progress)
    seconds = time.perf_counter() - started
    checked, written = phase_ends.get("check", started), phase_ends.get("import", started)
    phases = {"check": round(checked - started, 1), "write": round(written - checked, 1),
              "indexes": round(started + seconds - written, 1)}
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    assert result.error_rows == 0, [str(issue) for issue in result.errors[:5]]
    stored = Contact.objects.count()
    assert stored == size, (stored, size)

    # The baseline: one services.contact_create per row (validation, save, phones,
    # emails, tags, consent, audit), on rows the import has not seen.
    rows = list(contact_rows(size, sample, seed=SEED + 1))
    accounts = {}
    baseline_started = time.perf_counter()
    for row in rows:
        data = services_data(row)
        if row[4]:
            if row[4] not in accounts:
                found = Account.objects.filter(name=row[4]).values_list("id", flat=True).first()
                accounts[row[4]] = found or services.account_create(actor=admin, data={"name": row[4]}).pk
            data["account_id"] = accounts[row[4]]
        services.contact_create(actor=admin, data=data)
    per_row = (time.perf_counter() - baseline_started) / sample
    baseline = per_row * size
    return {"benchmark": f"import_contacts_{database}", "value": round(seconds, 2), "unit": "s",
            "target": TARGET_SECONDS,
            "baseline": f"services.contact_create per row, {sample}-row sample extrapolated",
            "baseline_value": round(baseline, 1), "ratio": round(baseline / seconds, 1), "size": size,
            "rows_per_second": round(size / seconds), "engine": connection.vendor,
            "cpu_seconds_in_this_process": round(cpu_seconds, 1), "load_average": round(os.getloadavg()[0], 1),
            "phase_seconds": phases,
            "created": result.created, "accounts": Account.objects.count()}


def run_child(database: str, csv_path: Path, size: int, sample: int, chunk_size: int, postgres_url: str) -> dict:
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_LOG_LEVEL="WARNING")
    created_database = None
    if database == "sqlite":
        sqlite_path = WORK_DIR / f"import-{os.getpid()}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        environment.pop("DATABASE_URL", None)
        environment["GUANXI_SQLITE_PATH"] = str(sqlite_path)
    else:
        import psycopg

        created_database = f"guanxi_bench_import_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin_connection:
            admin_connection.execute(f'CREATE DATABASE "{created_database}"')
        base, _slash, _name = postgres_url.rpartition("/")
        environment["DATABASE_URL"] = f"{base}/{created_database}"
    environment["GUANXI_DATA_DIR"] = str(WORK_DIR / "data")
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", database, "--file", str(csv_path), "--size", str(size),
             "--sample", str(sample), "--chunk-size", str(chunk_size)],
            env=environment, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        if database == "sqlite":
            # benchmarks/phone_lookup.py looks callers up in this database instead of building its own
            kept = PROJECT_DIR / "var" / "bench" / "phone" / f"contacts-{size}.sqlite3"
            kept.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(f"{kept}{suffix}").unlink(missing_ok=True)
            if sqlite_path.exists() and Path(f"{sqlite_path}-wal").exists():
                import sqlite3

                with sqlite3.connect(sqlite_path) as checkpoint:
                    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if sqlite_path.exists():
                sqlite_path.replace(kept)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        elif created_database:
            import psycopg

            with psycopg.connect(postgres_url, autocommit=True) as admin_connection:
                admin_connection.execute(f'DROP DATABASE IF EXISTS "{created_database}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000, help="rows of the per-row baseline")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("GUANXI_BENCH_POSTGRES_URL", ""),
                        help="PostgreSQL server URL (a fresh database is created on it and dropped after)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--file", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        sys.path.insert(0, str(PROJECT_DIR))
        print(json.dumps(measure(arguments.child, Path(arguments.file), arguments.size, arguments.sample,
                                 arguments.chunk_size)))
        return 0

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = WORK_DIR / f"contacts-{arguments.size}.csv"
    if not csv_path.exists():
        started = time.perf_counter()
        write_file(csv_path, arguments.size)
        print(f"generated {arguments.size:,} contacts in {time.perf_counter() - started:.1f} s → {csv_path}",
              file=sys.stderr)
    lines = []
    if arguments.postgres and arguments.only in ("", "postgresql"):
        lines.append(run_child("postgresql", csv_path, arguments.size, arguments.sample, arguments.chunk_size,
                               arguments.postgres))
    elif arguments.only != "sqlite":
        print("PostgreSQL skipped: give --postgres URL or set GUANXI_BENCH_POSTGRES_URL", file=sys.stderr)
    if arguments.only in ("", "sqlite"):
        lines.append(run_child("sqlite", csv_path, arguments.size, arguments.sample, arguments.chunk_size, ""))
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0 if all(line["value"] <= TARGET_SECONDS for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
