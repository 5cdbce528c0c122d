"""Browser tests through the real server: `guanxi serve` (uvicorn, WebSockets, in-process
jobs) in a subprocess on a fresh database, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]
ADMIN = ("e2e-admin", "e2e-password-2026")
PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _guanxi(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guanxi.cli", *args], env=env, cwd=PROJECT, check=True,
                          capture_output=True, text=True, timeout=300)


# Migrating a fresh database costs half a minute; each server of a run gets a copy of one
# migrated template instead (a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL).
_TEMPLATES: dict[str, str] = {}


def _postgres_admin(database_url: str):
    import psycopg

    return psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def migrated_database(env: dict) -> None:
    """Give the server environment ``env`` a migrated, empty database of its own."""
    if env.get("DATABASE_URL"):
        base_url, database_name = env["DATABASE_URL"].rsplit("/", 1)
        template = _TEMPLATES.get("postgres")
        if template is None:
            template = f"guanxi_e2e_template_{uuid.uuid4().hex[:8]}"
            with _postgres_admin(env["DATABASE_URL"]) as connection:
                connection.execute(f'CREATE DATABASE "{template}"')
            _guanxi("migrate", "--noinput", "-v", "0", env={**env, "DATABASE_URL": f"{base_url}/{template}"})
            _TEMPLATES["postgres"] = template
        with _postgres_admin(env["DATABASE_URL"]) as connection:
            connection.execute(f'CREATE DATABASE "{database_name}" TEMPLATE "{template}"')
        return
    target = Path(env.get("GUANXI_SQLITE_PATH") or Path(env["GUANXI_DATA_DIR"]) / "guanxi.sqlite3")
    template = _TEMPLATES.get("sqlite")
    if template is None:
        folder = tempfile.mkdtemp(prefix="guanxi-e2e-template-")
        template = str(Path(folder) / "guanxi.sqlite3")
        _guanxi("migrate", "--noinput", "-v", "0",
                env={**env, "GUANXI_DATA_DIR": folder, "GUANXI_SQLITE_PATH": template})
        _TEMPLATES["sqlite"] = template
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


@pytest.fixture(scope="session", autouse=True)
def _drop_database_templates():
    yield
    if "sqlite" in _TEMPLATES:
        shutil.rmtree(Path(_TEMPLATES.pop("sqlite")).parent, ignore_errors=True)
    if "postgres" in _TEMPLATES and os.environ.get("DATABASE_URL"):
        with _postgres_admin(os.environ["DATABASE_URL"]) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATES.pop("postgres")}" WITH (FORCE)')


@contextlib.contextmanager
def running_server(env: dict, data_dir: str, port: int | None = None):
    """`guanxi serve` in a subprocess on ``env``'s database; yields its base URL once it
    accepts connections, and stops it afterwards."""
    port = port or _free_port()
    log_path = Path(data_dir) / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "serve", "--port", str(port)], env=env,
                                   cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None:
                        raise RuntimeError(log_path.read_text()) from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("guanxi serve did not start: " + log_path.read_text()) from None
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def guanxi_server():
    """Base URL of a running Guanxi with an admin user, on SQLite or (when DATABASE_URL is
    set) on a throw-away PostgreSQL database."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("GUANXI_REQUIRE_SERVICES"):
            pytest.fail(f"{CHROMIUM} is missing; scripts/services.sh installs it")
        pytest.skip("Debian chromium is not installed")
    data_dir = tempfile.mkdtemp(prefix="guanxi-e2e-")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(GUANXI_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_LOG_LEVEL="WARNING")
    env.pop("GUANXI_JOBS_IMMEDIATE", None)
    database_name = None
    if env.get("DATABASE_URL"):
        database_name = f"guanxi_e2e_{uuid.uuid4().hex[:8]}"
        base_url = env["DATABASE_URL"].rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{base_url}/{database_name}"
    migrated_database(env)
    _guanxi("createuser", ADMIN[0], "--role", "admin", "--password", ADMIN[1], "--name", "E2E 管理员", env=env)
    with running_server(env, data_dir) as url:
        yield {"url": url, "env": env, "admin": ADMIN, "data_dir": data_dir}
    if database_name:
        with _postgres_admin(env["DATABASE_URL"]) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, guanxi_server):
    context = browser.new_context(base_url=guanxi_server["url"], locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
