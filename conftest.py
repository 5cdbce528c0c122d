"""Shared test fixtures: users for every role, an API client with a token, a clock."""

from __future__ import annotations

import os
import tempfile

import pytest

# Each test run gets its own data folder (job-queue file, media), so two runs on one
# machine never consume each other's queue.
os.environ.setdefault("GUANXI_DATA_DIR", tempfile.mkdtemp(prefix="guanxi-test-"))


@pytest.fixture(autouse=True)
def _jobs_run_immediately(settings):
    """Jobs run inline in tests unless a test starts a real consumer itself; passwords use a
    fast hasher (PBKDF2's deliberate slowness would dominate the suite's run time)."""
    from huey.contrib.djhuey import HUEY

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing_everywhere():
    """The fast hasher for module- and session-scoped fixtures too (they run before the
    function-scoped ``settings`` fixture below)."""
    from django.test.utils import override_settings

    override = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing with production strength costs about half a second per user; tests create
    hundreds of users and prove access rules, not the hasher's strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache, keyed by user ID; IDs repeat between tests
    after rollback, so each test starts with empty counters."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a test (or a page request in the same
    thread) that switched to Chinese must not turn the next test's English texts Chinese."""
    from django.conf import settings as django_settings
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let Django's flush between transactional tests empty the audit log on SQLite.

    Production keeps the delete guard armed; test_contact_records arms it to prove it
    works. (PostgreSQL flushes with TRUNCATE, which the row trigger does not see.)
    """
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("UPDATE core_auditlog_guard SET armed = 0")


def pytest_collection_modifyitems(config, items):
    """Everything under tests/e2e is a browser test (``-m e2e`` / ``-m "not e2e"``)."""
    for item in items:
        if "e2e" in item.path.parts and item.path.parts[-3:-1] == ("tests", "e2e"):
            item.add_marker(pytest.mark.e2e)
