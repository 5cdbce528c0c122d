"""Shared test fixtures: users for every role, an API client with a token, a clock."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GUANXI_DATA_DIR", os.path.join(os.path.dirname(__file__), "var", "test"))


@pytest.fixture(autouse=True)
def _jobs_run_immediately(settings):
    """Jobs run inline in tests unless a test starts a real consumer itself."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture
def make_user(db):
    from guanxi.core.models import Role
    from guanxi.core.services import user_create

    def factory(username: str = "user", role: str = Role.SALES_REP, **kwargs):
        return user_create(actor=None, username=username, password="correct-horse-42", role=role, **kwargs)

    return factory


@pytest.fixture
def admin_user(make_user):
    from guanxi.core.models import Role

    return make_user("admin", Role.ADMIN, is_superuser=True)


@pytest.fixture
def api_client(admin_user):
    """A Django test client that sends the admin's bearer token."""
    from django.test import Client

    from guanxi.core.services import api_token_create

    _token, clear = api_token_create(actor=admin_user, user=admin_user, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {clear}")


def token_client(user):
    from django.test import Client

    from guanxi.core.services import api_token_create

    _token, clear = api_token_create(actor=user, user=user, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {clear}")


@pytest.fixture
def client_for():
    return token_client


@pytest.fixture(autouse=True)
def _audit_guard_for_flush(request):
    """On SQLite, let Django's flush after a transactional test empty the audit log.

    Production keeps the guard armed; only the test harness's teardown disarms it.
    """
    if "transactional_db" not in request.fixturenames and "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    from django.db import connection

    def set_guard(armed: int) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("UPDATE core_auditlog_guard SET armed = %s", [armed])

    set_guard(1)
    yield
    set_guard(0)
