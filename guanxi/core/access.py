"""The role × object × action matrix, loaded from ``access_matrix.csv``.

The matrix is data, like Odoo's ``ir.model.access.csv``: each row grants a role one
action on one kind of object with a record scope (own / team / territory / all). A
missing row means the action is refused. Later domains append their objects to the
same file. Record-level filtering for each scope lives in ``selectors``.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from guanxi.core.models import Role, Visibility

MATRIX_PATH = Path(__file__).with_name("access_matrix.csv")
ACTIONS = ("view", "create", "change", "delete", "export", "import")
SCOPE_ORDER = [Visibility.NONE, Visibility.OWN, Visibility.TEAM, Visibility.TERRITORY, Visibility.ALL]


class AccessMatrixError(ValueError):
    pass


@lru_cache(maxsize=1)
def load_matrix() -> dict[tuple[str, str, str], str]:
    matrix: dict[tuple[str, str, str], str] = {}
    valid_roles = set(Role.values)
    valid_scopes = set(Visibility.values)
    with MATRIX_PATH.open(newline="", encoding="utf-8") as handle:
        for line_number, row in enumerate(csv.DictReader(handle), start=2):
            key = (row["role"], row["object"], row["action"])
            if row["role"] not in valid_roles:
                raise AccessMatrixError(f"{MATRIX_PATH.name}:{line_number}: unknown role {row['role']!r}")
            if row["action"] not in ACTIONS:
                raise AccessMatrixError(f"{MATRIX_PATH.name}:{line_number}: unknown action {row['action']!r}")
            if row["scope"] not in valid_scopes:
                raise AccessMatrixError(f"{MATRIX_PATH.name}:{line_number}: unknown scope {row['scope']!r}")
            if key in matrix:
                raise AccessMatrixError(f"{MATRIX_PATH.name}:{line_number}: duplicate row {key}")
            matrix[key] = row["scope"]
    return matrix


def objects() -> list[str]:
    return sorted({object_name for (_, object_name, _) in load_matrix()})


def scope_for(user, object_name: str, action: str) -> str:
    """The widest scope ``user`` has for ``action`` on ``object_name`` ("none" if refused)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Visibility.NONE
    if user.is_superuser:
        return Visibility.ALL
    return load_matrix().get((user.role, object_name, action), Visibility.NONE)


def can(user, object_name: str, action: str) -> bool:
    return scope_for(user, object_name, action) != Visibility.NONE
