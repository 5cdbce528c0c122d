"""List pages, API lists and search at 1,000,000 contacts (SPEC §1: p95 ≤ 50 ms, ≤ 10 SQL queries).

Builds (once) a database of ``--size`` contacts and ``size / 10`` accounts, starts the real
server (``guanxi serve``) on it, signs in an administrator and a sales rep (whose "own"
scope must be as fast as the administrator's "all"), starts a second process that keeps a
bounded concurrent load on the server, and measures from this process:

- the contact list page (HTML): first page and a deep-ish page, sorted by name and by
  last update, for both users;
- the API contact list with a filter (lifecycle stage + sort);
- search by name, Chinese and Latin, and by phone number typed in another format than
  the stored E.164, through the API and the search page.

SQL queries per request are counted in this process with Django's test client and
``CaptureQueriesContext`` on the same database, so the server runs its production code
paths with nothing added.

    .venv/bin/python benchmarks/list_latency.py [--size 1000000] [--database sqlite|postgres]
        [--postgres-url postgres://…] [--requests 200] [--duration 120] [--load-rate 20]

The SQLite database is cached under ``var/bench/`` keyed by size and seed, so reruns skip
the build; PostgreSQL (``--postgres-url`` or ``GUANXI_BENCH_POSTGRES_URL``) is rebuilt
unless it already holds the same data set. Ends with one JSON line per endpoint and a
summary line; exits 1 when a request fails.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "var" / "bench"
TARGET_P95_MS = 50.0
TARGET_QUERIES = 10
BASELINE_P95_MS = 971
PASSWORD = "list-latency-bench-2026"
REPS = 100                # sales reps owning the records: 10,000 contacts each at a million
REPS_PER_TEAM = 10
DATASET_VERSION = 2       # raise when the generated data changes, to rebuild cached files
BATCH = 20_000


# ======================================================================================
# Configuration before Django starts
# ======================================================================================
def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="contacts (accounts: a tenth of it)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("GUANXI_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop measuring after this many seconds (0: no time limit)")
    parser.add_argument("--load-rate", type=float, default=10.0,
                        help="requests per second sent by the load process (0: no load)")
    parser.add_argument("--load-workers", type=int, default=2, help="concurrent connections of the load process")
    parser.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rebuild", action="store_true", help="build the data again even if cached")
    parser.add_argument("--only", default="", help="comma-separated endpoint names to measure")
    parser.add_argument("--build-only", action="store_true", help="build the data set and stop")
    return parser.parse_args(argv)


def database_environment(arguments) -> dict[str, str]:
    """Environment that points Django (here and in the server) at the benchmark database."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    environment = {
        "GUANXI_DATA_DIR": str(BENCH_DIR),
        "GUANXI_INPROCESS_WORKER": "0",
        # The benchmark measures latency, not the per-user API rate limit.
        "GUANXI_API_RATE_LIMIT": "1000000/m",
        "GUANXI_LOGIN_RATE_LIMIT": "1000/m",
        "GUANXI_DEBUG": "0",
    }
    if arguments.database == "postgres":
        if not arguments.postgres_url:
            sys.exit("--database postgres needs --postgres-url or GUANXI_BENCH_POSTGRES_URL")
        environment["DATABASE_URL"] = arguments.postgres_url
    else:
        environment["DATABASE_URL"] = ""
        environment["GUANXI_SQLITE_PATH"] = str(sqlite_path(arguments))
    return environment


def sqlite_path(arguments) -> Path:
    return BENCH_DIR / f"list_latency-{arguments.size}-seed{arguments.seed}-v{DATASET_VERSION}.sqlite3"


def setup_django(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    if not environment.get("DATABASE_URL"):
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()


# ======================================================================================
# Data set
# ======================================================================================
SURNAME_PINYIN = {
    "王": "Wang", "李": "Li", "张": "Zhang", "刘": "Liu", "陈": "Chen", "杨": "Yang", "黄": "Huang", "赵": "Zhao",
    "吴": "Wu", "周": "Zhou", "徐": "Xu", "孙": "Sun", "马": "Ma", "朱": "Zhu", "胡": "Hu", "郭": "Guo",
    "何": "He", "高": "Gao", "林": "Lin", "罗": "Luo", "郑": "Zheng", "梁": "Liang", "谢": "Xie", "宋": "Song",
}
MOBILE_PREFIXES = ("138", "139", "136", "150", "152", "158", "186", "187", "189", "135", "177", "199")
LATIN_QUERIES = ("smith", "wang", "emily", "johnson", "miller", "sarah chen", "müller", "oliver", "grace li",
                 "walker", "hughes", "james")


@dataclass
class DataSet:
    """What the measurements need to know about the generated data."""

    admin_username: str
    rep_username: str
    chinese_names: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)       # E.164 numbers of random contacts
    rep_phones: list[str] = field(default_factory=list)   # numbers of the rep's own contacts


class Generator:
    """Deterministic accounts and contacts shaped like the demo data, with Zipf-like
    Chinese surnames: 王 about 6 % of the names, 李 4 %, 张 3 % (in China each of the three
    holds about 7 %)."""

    def __init__(self, size: int, seed: int):
        from guanxi.core import demo

        self.size = size
        self.accounts = max(size // 10, 1)
        self.rng = random.Random(seed)
        self.demo = demo
        surnames = demo.FAMILY_NAMES
        self.surname_weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(surnames))]
        self.surnames = list(surnames)
        self.now = datetime.datetime(2026, 1, 15, 9, 0, tzinfo=datetime.timezone.utc)

    def moment(self, days_back: int) -> datetime.datetime:
        return self.now - datetime.timedelta(seconds=self.rng.randrange(days_back * 86400))

    def mobile(self, number: int) -> str:
        """A valid, unique mainland mobile number for each ``number``."""
        prefix = MOBILE_PREFIXES[number % len(MOBILE_PREFIXES)]
        return f"+86{prefix}{(number * 7919 + 12345) % 100_000_000:08d}"

    def account_name(self, number: int) -> str:
        rng = self.rng
        if rng.random() < 0.1:
            return f"{rng.choice(self.demo.ENGLISH_COMPANIES)} {number}"
        city = rng.choice(self.demo.REGIONS[rng.randrange(4)][4])
        industry = rng.choice(list(self.demo.COMPANY_SUFFIXES.values()))
        return f"{city}{rng.choice(self.demo.COMPANY_PREFIXES)}{industry}{number % 97}号有限公司"

    def person(self) -> tuple[str, str, str, str]:
        """family name, given name, full name, alternate name."""
        rng = self.rng
        if rng.random() < 0.12:
            given, family = rng.choice(self.demo.ENGLISH_GIVEN), rng.choice(self.demo.ENGLISH_FAMILY)
            return family, given, f"{given} {family}", ""
        family = rng.choices(self.surnames, self.surname_weights)[0]
        characters = self.demo.GIVEN_CHARACTERS
        given = "".join(rng.choice(characters) for _ in range(rng.choice((1, 2, 2))))
        alternate = ""
        if family in SURNAME_PINYIN and rng.random() < 0.3:
            alternate = f"{rng.choice(self.demo.ENGLISH_GIVEN)} {SURNAME_PINYIN[family]}"
        return family, given, family + given, alternate


def model_rows(model, generated_rows, vendor: str):
    """Rows of ``model``'s concrete columns: generated values where given, the field's
    default otherwise, in the form the raw driver takes."""
    from django.db.models import JSONField

    columns, makers = [], []
    for model_field in model._meta.concrete_fields:
        columns.append(model_field.column)
        default = model_field.get_default()
        if isinstance(model_field, JSONField):
            default = json.dumps(default)
        elif isinstance(default, datetime.datetime):
            default = None  # always generated
        makers.append((model_field.attname, default))

    def convert(value):
        if isinstance(value, datetime.datetime):
            value = value.astimezone(datetime.timezone.utc)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f") if vendor == "sqlite" else value.isoformat()
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return value

    def rows():
        for generated in generated_rows:
            yield tuple(convert(generated[name]) if name in generated else default for name, default in makers)

    return columns, rows()


class BulkWriter:
    """Raw bulk insert: SQLite executemany with secondary indexes and FTS triggers set
    aside during the load; PostgreSQL COPY with secondary indexes rebuilt afterwards. The
    schema afterwards is exactly what the migrations created."""

    def __init__(self, connection):
        self.connection = connection
        self.vendor = connection.vendor
        self.saved: list[str] = []

    def __enter__(self):
        tables = ("core_account", "core_contact", "core_contactphone", "core_contactemail")
        with self.connection.cursor() as cursor:
            if self.vendor == "sqlite":
                placeholders = ",".join("?" for _ in tables)
                cursor.execute(f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({placeholders}) "
                               "AND type IN ('index', 'trigger') AND sql IS NOT NULL", tables)
                for kind, name, sql in cursor.fetchall():
                    self.saved.append(sql)
                    cursor.execute(f'DROP {kind.upper()} "{name}"')
            else:
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint)", [list(tables)])
                for name, definition in cursor.fetchall():
                    self.saved.append(definition)
                    cursor.execute(f'DROP INDEX "{name}"')
        return self

    def insert(self, model, generated_rows) -> None:
        columns, rows = model_rows(model, generated_rows, self.vendor)
        table = model._meta.db_table
        column_list = ", ".join(f'"{column}"' for column in columns)
        raw = self.connection.connection
        if self.vendor == "sqlite":
            statement = f'INSERT INTO "{table}" ({column_list}) VALUES ({", ".join("?" for _ in columns)})'
            while True:
                batch = [row for _, row in zip(range(BATCH), rows)]
                if not batch:
                    break
                raw.executemany(statement, batch)
        else:
            with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)

    def __exit__(self, *exc_info):
        if exc_info[0] is not None:
            return False
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":  # run the deferred foreign-key checks before indexing
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for sql in self.saved:
                cursor.execute(sql)
            if self.vendor == "sqlite":
                for table in ("core_contact_fts", "core_account_fts"):
                    cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
            else:
                for table in ("core_account", "core_contact", "core_contactphone", "core_contactemail"):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        return False


def build(arguments) -> None:
    """Users, teams and territories through the services; accounts, contacts, phones and
    emails by bulk insert with ``search_text`` computed exactly as the services do."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from guanxi.core.models import User

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    if User.objects.filter(username="bench.admin").exists():
        print("data set already present")
        return
    print(f"building {arguments.size:,} contacts and {max(arguments.size // 10, 1):,} accounts "
          f"on {connection.vendor}…", flush=True)
    generator = Generator(arguments.size, arguments.seed)
    rng = generator.rng
    with transaction.atomic():  # all or nothing: a build that fails leaves no half data set
        _build_records(arguments, generator, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":  # fold the write-ahead log into the database file
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def _build_records(arguments, generator: Generator, rng: random.Random) -> None:
    """The records themselves, inside the caller's transaction."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from guanxi.core import services
    from guanxi.core.models import Account, Contact, ContactEmail, ContactPhone, Role, Team, Territory, User
    from guanxi.core.normalize import search_text

    started = time.perf_counter()
    territories = [Territory.objects.create(code=code, name=name, region=region, provinces=provinces,
                                            cities=cities, postcode_prefixes=postcodes)
                   for code, name, region, provinces, cities, postcodes in generator.demo.REGIONS]
    services.user_create(actor=None, username="bench.admin", password=PASSWORD, role=Role.ADMIN,
                         is_superuser=True, display_name="Bench Administrator")
    hashed = make_password(PASSWORD)
    reps = []
    for team_number in range(REPS // REPS_PER_TEAM):
        territory = territories[team_number % 4]
        team = Team.objects.create(name=f"Sales team {team_number:02d}", territory=territory)
        manager = User.objects.create(username=f"bench.manager{team_number:02d}", password=hashed,
                                      role=Role.SALES_MANAGER, team=team, territory=territory,
                                      display_name=f"经理 Manager {team_number:02d}")
        Team.objects.filter(pk=team.pk).update(manager=manager)
        for member in range(REPS_PER_TEAM):
            number = team_number * REPS_PER_TEAM + member
            reps.append(User.objects.create(username=f"bench.rep{number:03d}", password=hashed,
                                            role=Role.SALES_REP, team=team, territory=territory,
                                            display_name=f"销售 Rep {number:03d}"))
    stages = [value for value, _label in Contact._meta.get_field("lifecycle_stage").choices]
    tiers = ["", "bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum"]
    industries = list(generator.demo.COMPANY_SUFFIXES)
    account_names: list[str] = [""]
    account_count = generator.accounts

    def accounts():
        for number in range(1, account_count + 1):
            owner = reps[rng.randrange(len(reps))]
            name = generator.account_name(number)
            account_names.append(name)
            phone = f"+8675{number % 100_000_000:08d}" if rng.random() < 0.5 else ""
            created = generator.moment(3 * 365)
            yield {"id": number, "name": name, "phone": phone, "industry": rng.choice(industries),
                   "owner_id": owner.pk, "team_id": owner.team_id, "territory_id": owner.territory_id,
                   "lifecycle_stage": rng.choice(stages), "value_tier": rng.choice(tiers),
                   "search_text": search_text(name, "", phone.lstrip("+"), "", ""),
                   "created_at": created, "updated_at": created + (generator.now - created) * rng.random()}

    phone_rows: list[dict] = []
    email_rows: list[dict] = []

    def contacts():
        phone_id = 0
        for number in range(1, arguments.size + 1):
            owner = reps[rng.randrange(len(reps))]
            family, given, full_name, alternate = generator.person()
            account_id = rng.randrange(1, account_count + 1) if rng.random() < 0.9 else None
            phone = generator.mobile(number)
            email = f"c{number}@{rng.choice(('qq.com', '163.com', 'example.cn', 'mail.example.com'))}"
            created = generator.moment(3 * 365)
            phone_id += 1
            phone_rows.append({"id": phone_id, "contact_id": number, "number": phone, "kind": "mobile",
                               "is_primary": True})
            if rng.random() < 0.2:
                phone_id += 1
                phone_rows.append({"id": phone_id, "contact_id": number, "kind": "work", "is_primary": False,
                                   "number": generator.mobile(number + 50_000_000)})
            email_rows.append({"id": number, "contact_id": number, "email": email, "kind": "work",
                               "is_primary": True})
            yield {
                "id": number, "family_name": family, "given_name": given, "full_name": full_name,
                "alternate_name": alternate, "email": email, "phone": phone, "account_id": account_id,
                "owner_id": owner.pk, "team_id": owner.team_id, "territory_id": owner.territory_id,
                "lifecycle_stage": rng.choice(stages), "value_tier": rng.choice(tiers),
                "industry": rng.choice(industries), "created_at": created,
                "updated_at": created + (generator.now - created) * rng.random(),
                "search_text": search_text(full_name, alternate, email, phone.lstrip("+"),
                                           account_names[account_id] if account_id else "", ""),
            }

    def drain(rows: list[dict]):
        while rows:
            yield from rows
            rows.clear()

    with BulkWriter(connection) as writer:
        writer.insert(Account, accounts())
        print(f"  accounts written ({time.perf_counter() - started:.0f} s)", flush=True)
        generated = contacts()
        while True:  # contacts in chunks, each followed by its phones and emails
            chunk = [row for _, row in zip(range(BATCH * 5), generated)]
            if not chunk:
                break
            writer.insert(Contact, iter(chunk))
            writer.insert(ContactPhone, drain(phone_rows))
            writer.insert(ContactEmail, drain(email_rows))
            print(f"  {chunk[-1]['id']:,} contacts written ({time.perf_counter() - started:.0f} s)", flush=True)
        print("  rebuilding indexes…", flush=True)


def data_set(arguments) -> DataSet:
    """Sample queries drawn from the stored data: names and numbers that exist."""
    from guanxi.core.models import Contact, ContactPhone, User

    rng = random.Random(arguments.seed + 1)
    size = arguments.size
    rep = User.objects.get(username="bench.rep000")
    sample_ids = [rng.randrange(1, size + 1) for _ in range(60)]
    contacts = Contact.objects.filter(pk__in=sample_ids).only("full_name")
    chinese = sorted({contact.full_name for contact in contacts if not contact.full_name.isascii()})
    chinese += [name[0] + name[1] for name in chinese[:10] if len(name) >= 2]  # surname + first given character
    chinese += ["王", "李", "陈"]  # the most common surnames: thousands of matches, 20 shown
    phones = list(ContactPhone.objects.filter(contact_id__in=sample_ids).values_list("number", flat=True))
    rep_phones = list(ContactPhone.objects.filter(contact__owner=rep).order_by("id")
                      .values_list("number", flat=True)[:40])
    return DataSet(admin_username="bench.admin", rep_username=rep.username, chinese_names=chinese,
                   phones=phones, rep_phones=rep_phones)


def typed_differently(e164: str, rng: random.Random) -> str:
    """The stored +86 number as a person would type it: spaces, dashes, 0086, national."""
    national = e164[3:]
    return rng.choice([f"{national[:3]} {national[3:7]} {national[7:]}",
                       f"{national[:3]}-{national[3:7]}-{national[7:]}", f"0086 {national}",
                       f"+86 ({national[:3]}) {national[3:7]}-{national[7:]}", national])


# ======================================================================================
# Endpoints
# ======================================================================================
@dataclass(frozen=True)
class Endpoint:
    name: str
    user: str       # "admin" or "rep"
    kind: str       # "html" or "api"
    make_path: object  # (rng) -> path with query


def endpoints(data: DataSet, size: int) -> list[Endpoint]:
    # "Deep-ish": page 200 of the admin's list (offset 9,950); the rep sees a tenth of a
    # percent of the contacts, so a quarter of the way into their list.
    admin_deep = max(2, min(200, size // 50 // 5))
    rep_deep = max(2, min(50, size // REPS // 50 // 4))
    stages = ["prospect", "new", "active", "loyal", "at_risk", "lost"]

    def fixed(path):
        return lambda rng: path

    def quoted(path, values, transform=lambda value, rng: value):
        return lambda rng: path + urllib.parse.quote(transform(rng.choice(values), rng))

    return [
        Endpoint("html_contacts_by_name", "admin", "html", fixed("/contacts/?sort=name")),
        Endpoint("html_contacts_by_name_deep", "admin", "html",
                 lambda rng: f"/contacts/?sort=name&page={admin_deep + rng.randrange(-5, 6)}"),
        Endpoint("html_contacts_by_updated", "admin", "html", fixed("/contacts/?sort=-updated")),
        Endpoint("html_contacts_by_updated_deep", "admin", "html",
                 lambda rng: f"/contacts/?sort=-updated&page={admin_deep + rng.randrange(-5, 6)}"),
        Endpoint("html_contacts_rep_by_name", "rep", "html", fixed("/contacts/?sort=name")),
        Endpoint("html_contacts_rep_by_updated_deep", "rep", "html",
                 lambda rng: f"/contacts/?sort=-updated&page={rep_deep + rng.randrange(-1, 2)}"),
        Endpoint("api_contacts_stage_by_updated", "admin", "api",
                 lambda rng: f"/api/v1/contacts?lifecycle_stage={rng.choice(stages)}&sort=-updated&limit=50"),
        Endpoint("api_contacts_stage_by_name", "admin", "api",
                 lambda rng: f"/api/v1/contacts?lifecycle_stage={rng.choice(stages)}&sort=name&limit=50"),
        Endpoint("api_contacts_rep_stage_by_updated", "rep", "api",
                 lambda rng: f"/api/v1/contacts?lifecycle_stage={rng.choice(stages)}&sort=-updated&limit=50"),
        Endpoint("api_search_name_chinese", "admin", "api", quoted("/api/v1/search?q=", data.chinese_names)),
        Endpoint("api_search_name_latin", "admin", "api", quoted("/api/v1/search?q=", list(LATIN_QUERIES))),
        Endpoint("api_search_phone", "admin", "api", quoted("/api/v1/search?q=", data.phones, typed_differently)),
        Endpoint("api_search_rep_name_chinese", "rep", "api", quoted("/api/v1/search?q=", data.chinese_names)),
        Endpoint("api_search_rep_phone", "rep", "api",
                 quoted("/api/v1/search?q=", data.rep_phones, typed_differently)),
        Endpoint("html_search_name_chinese", "admin", "html", quoted("/search/?q=", data.chinese_names)),
        Endpoint("html_search_name_latin", "admin", "html", quoted("/search/?q=", list(LATIN_QUERIES))),
        Endpoint("html_search_phone", "admin", "html", quoted("/search/?q=", data.phones, typed_differently)),
        Endpoint("html_contacts_search_name", "admin", "html",
                 quoted("/contacts/?sort=name&q=", data.chinese_names)),
    ]


# ======================================================================================
# SQL queries per request, counted in-process on the same database
# ======================================================================================
def count_queries(selected: list[Endpoint], tokens: dict[str, str], seed: int) -> dict[str, int]:
    """The most queries any of a few requests of each endpoint made (after one warm-up, so
    the once-a-minute token stamp is not counted as if it happened on every call)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from guanxi.core.models import User

    clients = {}
    for role, username in (("admin", "bench.admin"), ("rep", "bench.rep000")):
        html_client = Client()
        html_client.force_login(User.objects.get(username=username))
        clients[(role, "html")] = html_client
        clients[(role, "api")] = Client(HTTP_AUTHORIZATION=f"Bearer {tokens[role]}")
    rng = random.Random(seed)
    counts = {}
    for endpoint in selected:
        client = clients[(endpoint.user, endpoint.kind)]
        client.get(endpoint.make_path(rng))
        most = 0
        for _ in range(5):
            path = endpoint.make_path(rng)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{endpoint.name}: {path} answered {response.status_code}")
            most = max(most, len(captured.captured_queries))
        counts[endpoint.name] = most
    return counts


# ======================================================================================
# The server and the HTTP clients
# ======================================================================================
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(environment: dict[str, str], port: int) -> subprocess.Popen:
    command = [str(PROJECT_DIR / ".venv" / "bin" / "guanxi"), "serve", "--port", str(port), "--no-worker"]
    log = open(BENCH_DIR / "list_latency-server.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env={**os.environ, **environment},
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped; see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not start within 60 s")


class HttpUser:
    """One keep-alive connection to the server, signed in by session or bearer token."""

    def __init__(self, port: int, cookie: str = "", token: str = ""):
        self.port = port
        self.headers = {"Accept-Encoding": "identity"}
        if cookie:
            self.headers["Cookie"] = cookie
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> tuple[int, float]:
        """Status and milliseconds. A connection the server closed while idle (uvicorn's
        keep-alive timeout) is opened again and the request timed afresh."""
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.connection.request("GET", path, headers=self.headers)
                response = self.connection.getresponse()
                response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
                continue
            return response.status, (time.perf_counter() - started) * 1000
        raise AssertionError("unreachable")


def sign_in(port: int, username: str) -> str:
    """Sign in through the login form like a browser; returns the Cookie header value."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    response.read()
    cookies = {}
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";")[0]
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrfmiddlewaretoken": cookies["csrftoken"]})
    connection.request("POST", "/login/", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookies['csrftoken']}",
        "Referer": f"http://127.0.0.1:{port}/login/"})
    response = connection.getresponse()
    response.read()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";")[0]
    if response.status != 302 or "sessionid" not in cookies:
        raise SystemExit(f"signing in as {username} failed with HTTP {response.status}")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def load_process(port: int, credentials: dict, paths: list[tuple[str, str, str]], rate: float, workers: int,
                 stop_after: float, stop, results) -> None:
    """The second process: ``workers`` connections sending ``rate`` requests per second in
    all (open loop, each on its own schedule) over the measured endpoints, until told to
    stop or ``stop_after`` seconds pass."""
    rng = random.Random(7)
    done, failed, latencies = [0], [0], []
    deadline = time.monotonic() + stop_after
    interval = workers / rate

    def work(offset: float) -> None:
        users = {(role, kind): HttpUser(port, cookie=credentials[role]["cookie"] if kind == "html" else "",
                                        token=credentials[role]["token"] if kind == "api" else "")
                 for role in ("admin", "rep") for kind in ("html", "api")}
        next_at = time.monotonic() + offset
        while next_at < deadline and not stop.is_set():
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            role, kind, path = paths[rng.randrange(len(paths))]
            try:
                status, elapsed = users[(role, kind)].get(path)
            except (http.client.HTTPException, OSError):
                status, elapsed = 0, 0.0
            done[0] += 1
            latencies.append(elapsed)
            if status != 200:
                failed[0] += 1
            next_at += interval

    threads = [threading.Thread(target=work, args=(index * interval / workers,), daemon=True)
               for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"requests": done[0], "failed": failed[0],
                 "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)})


# ======================================================================================
# Measuring
# ======================================================================================
def percentile(values: list[float], rank: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * rank / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(selected: list[Endpoint], credentials: dict, port: int, arguments) -> dict[str, list[float]]:
    """Requests go round the endpoints in turn, so every endpoint sees the same load."""
    users = {(role, kind): HttpUser(port, cookie=credentials[role]["cookie"] if kind == "html" else "",
                                    token=credentials[role]["token"] if kind == "api" else "")
             for role in ("admin", "rep") for kind in ("html", "api")}
    rng = random.Random(arguments.seed + 2)
    timings: dict[str, list[float]] = {endpoint.name: [] for endpoint in selected}
    for endpoint in selected:  # warm-up: first touches of each code path and page of data
        for _ in range(3):
            users[(endpoint.user, endpoint.kind)].get(endpoint.make_path(rng))
    started = time.monotonic()
    for _round in range(arguments.requests):
        if arguments.duration and time.monotonic() - started > arguments.duration:
            break
        for endpoint in selected:
            path = endpoint.make_path(rng)
            status, elapsed = users[(endpoint.user, endpoint.kind)].get(path)
            if status != 200:
                raise SystemExit(f"{endpoint.name}: GET {path} answered HTTP {status}")
            timings[endpoint.name].append(elapsed)
    return timings


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    environment = database_environment(arguments)
    if arguments.database == "sqlite" and arguments.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(str(sqlite_path(arguments)) + suffix).unlink(missing_ok=True)
    setup_django(environment)
    from django.db import connection

    from guanxi.core import services
    from guanxi.core.models import User

    build(arguments)
    if arguments.build_only:
        return 0
    data = data_set(arguments)
    selected = endpoints(data, arguments.size)
    if arguments.only:
        wanted = set(arguments.only.split(","))
        selected = [endpoint for endpoint in selected if endpoint.name in wanted]
    tokens = {}
    for role, username in (("admin", data.admin_username), ("rep", data.rep_username)):
        user = User.objects.get(username=username)
        tokens[role] = services.api_token_create(actor=user, user=user, name="list latency benchmark")[1]
    print("counting SQL queries per request…", flush=True)
    queries = count_queries(selected, tokens, arguments.seed)
    connection.close()

    port = arguments.port or free_port()
    server = start_server(environment, port)
    load = None
    try:
        credentials = {role: {"cookie": sign_in(port, username), "token": tokens[role]}
                       for role, username in (("admin", data.admin_username), ("rep", data.rep_username))}
        load_paths_rng = random.Random(arguments.seed + 3)
        load_paths = [(endpoint.user, endpoint.kind, endpoint.make_path(load_paths_rng))
                      for endpoint in selected for _ in range(20)]
        spawn = multiprocessing.get_context("spawn")
        results, stop = spawn.Queue(), spawn.Event()
        if arguments.load_rate > 0:
            limit = arguments.duration or 3600.0
            load = spawn.Process(target=load_process, args=(port, credentials, load_paths, arguments.load_rate,
                                                            arguments.load_workers, limit + 60, stop, results),
                                 daemon=True)
            load.start()
            time.sleep(1.0)
        print(f"measuring on {connection.vendor}, {arguments.size:,} contacts, "
              f"{arguments.requests} requests per endpoint, background load {arguments.load_rate:g} req/s…",
              flush=True)
        timings = measure(selected, credentials, port, arguments)
        load_summary = None
        if load is not None:
            stop.set()
            load_summary = results.get(timeout=60)
            load.join(10)
    finally:
        if load is not None and load.is_alive():
            load.kill()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    lines = []
    header = f"{'endpoint':<36} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'SQL':>4}"
    print(header)
    print("-" * len(header))
    for endpoint in selected:
        values = timings[endpoint.name]
        line = {"benchmark": "list_latency", "endpoint": endpoint.name, "database": connection.vendor,
                "size": arguments.size, "requests": len(values),
                "p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2),
                "p99_ms": round(percentile(values, 99), 2), "max_ms": round(max(values), 2),
                "queries": queries[endpoint.name], "target_ms": TARGET_P95_MS, "target_queries": TARGET_QUERIES}
        lines.append(line)
        print(f"{endpoint.name:<36} {len(values):>5} {line['p50_ms']:>8.1f} {line['p95_ms']:>8.1f} "
              f"{line['p99_ms']:>8.1f} {line['max_ms']:>8.1f} {line['queries']:>4}")
    if load_summary is not None:
        print(f"background load from a second process: {load_summary['requests']:,} requests "
              f"({load_summary['failed']} failed), p50 {load_summary['p50_ms']:.1f} ms, "
              f"p95 {load_summary['p95_ms']:.1f} ms")
    worst = max(lines, key=lambda line: line["p95_ms"])
    most_queries = max(line["queries"] for line in lines)
    print(f"worst p95: {worst['p95_ms']:.1f} ms ({worst['endpoint']}); most SQL queries per request: "
          f"{most_queries}; targets: p95 ≤ {TARGET_P95_MS:g} ms, ≤ {TARGET_QUERIES} queries: "
          f"{'met' if worst['p95_ms'] <= TARGET_P95_MS and most_queries <= TARGET_QUERIES else 'NOT met'}")
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    print(json.dumps({
        "benchmark": "list_latency", "value": worst["p95_ms"], "unit": "ms", "target": TARGET_P95_MS,
        "baseline": "peer Python CRM contact list at 100k (measured elsewhere)", "baseline_value": BASELINE_P95_MS,
        "ratio": round(BASELINE_P95_MS / worst["p95_ms"], 1), "size": arguments.size,
        "database": connection.vendor, "max_queries": most_queries, "worst_endpoint": worst["endpoint"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
