"""The whole role × object × action matrix, walked through the real API.

Every role in ``Role`` × every object named in ``access_matrix.csv`` × every action in
``access.ACTIONS`` is its own test (id ``role-object-action``). The expected scope is read
from the CSV file itself, so rows other domains add later are walked too. Each object needs
a checker; where they live and how to add one is explained in ``access_checks.py``. Roles
without rows (partner and customer, for now) are walked like the others and must be refused
everything.

The cast of each role's world (territories, teams, the actor and the owners of the records)
is built once per role inside one transaction for the whole walk; every case then runs in
its own nested transaction, rolled back afterwards, so no case sees another's records (the
same isolation as before, without rebuilding six users per case).
"""

import csv
import dataclasses
import importlib
import importlib.util

import pytest
from django.apps import apps
from django.db import transaction

pytest.register_assert_rewrite("guanxi.core.tests.access_checks")
pytestmark = pytest.mark.django_db

from guanxi.core import access  # noqa: E402  (after the assertion-rewrite registration)
from guanxi.core.models import Role  # noqa: E402
from guanxi.core.tests.access_checks import CHECKERS, NONE, World  # noqa: E402



def _read_matrix_file() -> dict[tuple[str, str, str], str]:
    """The CSV as written, read here independently of ``access.load_matrix``."""
    with access.MATRIX_PATH.open(newline="", encoding="utf-8") as handle:
        return {(row["role"], row["object"], row["action"]): row["scope"] for row in csv.DictReader(handle)}


def _discover_checkers() -> dict[str, str]:
    """Import ``<app>.tests.access_checks`` of every installed Guanxi app; name → module."""
    found = {}
    for app in apps.get_app_configs():
        if not app.name.startswith("guanxi."):
            continue
        module_name = f"{app.name}.tests.access_checks"
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:  # the app has no tests package
            spec = None
        if spec is not None:
            pytest.register_assert_rewrite(module_name)
            importlib.import_module(module_name)
            found[app.name] = module_name
    return found


MATRIX = _read_matrix_file()
CHECKER_MODULES = _discover_checkers()
OBJECTS = sorted({object_name for (_role, object_name, _action) in MATRIX})
CASES = [(object_name, action) for object_name in OBJECTS for action in access.ACTIONS]  # × every role


def _roll_back(atomic) -> None:
    transaction.set_rollback(True)
    atomic.__exit__(None, None, None)


@pytest.fixture(scope="module")
def _walk(django_db_setup, django_db_blocker):
    """One transaction around the whole walk, rolled back at its end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield
        finally:
            _roll_back(outer)


@pytest.fixture(scope="module", params=Role.values)
def role_world(request, _walk, django_db_blocker):
    """The role's world, built once in a savepoint of the walk; pytest runs all cases of one
    role together, and each case's own transaction (the django_db marker) nests inside."""
    with django_db_blocker.unblock():
        savepoint = transaction.atomic()
        savepoint.__enter__()
        try:
            yield World.build(request.param)
        finally:
            _roll_back(savepoint)


def test_the_loader_reads_the_file_as_written():
    assert access.load_matrix() == MATRIX
    assert access.objects() == OBJECTS
    assert OBJECTS, "the matrix names no object"


@pytest.mark.parametrize(("object_name", "action"), CASES, ids=["-".join(case) for case in CASES])
def test_access_matrix(role_world, object_name, action):
    checker_class = CHECKERS.get(object_name)
    if checker_class is None:
        pytest.fail(
            f"access_matrix.csv has rows for {object_name!r} but no access checker walks it. Add a class "
            f"decorated @register({object_name!r}) in guanxi/<domain>/tests/access_checks.py (see "
            f"guanxi/core/tests/access_checks.py for the pattern). Checker modules found: "
            f"{sorted(CHECKER_MODULES.values())}")
    # a fresh copy: records a case creates lazily (contacts, accounts) die with its transaction
    world = dataclasses.replace(role_world, _contacts=None, _accounts=None)
    scope = MATRIX.get((world.role, object_name, action), NONE)
    assert access.scope_for(world.actor, object_name, action) == scope
    check = getattr(checker_class(world, MATRIX), f"check_{action}", None)
    if check is None:
        granted_to = sorted(row_role for (row_role, row_object, row_action) in MATRIX
                            if (row_object, row_action) == (object_name, action))
        assert not granted_to, (
            f"access_matrix.csv grants {action} on {object_name} to {granted_to}, but "
            f"{checker_class.__module__}.{checker_class.__name__} has no check_{action}: add one that tries "
            f"it through the real API or service")
        return
    check(scope)
