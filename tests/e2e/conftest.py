"""Browser tests through the real server: `guanxi serve` (uvicorn, WebSockets, in-process
jobs) in a subprocess on a fresh database, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

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
        import psycopg

        database_name = f"guanxi_e2e_{uuid.uuid4().hex[:8]}"
        base_url = env["DATABASE_URL"].rsplit("/", 1)[0]
        with psycopg.connect(base_url + "/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database_name}"')
        env["DATABASE_URL"] = f"{base_url}/{database_name}"
    _guanxi("migrate", "--noinput", "-v", "0", env=env)
    _guanxi("createuser", ADMIN[0], "--role", "admin", "--password", ADMIN[1], "--name", "E2E 管理员", env=env)
    port = _free_port()
    log = open(Path(data_dir) / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "serve", "--port", str(port)], env=env,
                               cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(Path(data_dir, "server.log").read_text())
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("guanxi serve did not start: " + Path(data_dir, "server.log").read_text())
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "admin": ADMIN, "data_dir": data_dir}
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    if database_name:
        import psycopg

        with psycopg.connect(base_url + "/postgres", autocommit=True) as connection:
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
