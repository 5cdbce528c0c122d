"""Values built from small tables that rarely change, kept by the process while the rows stay the same.

Every list page offers the active users as owners and the territories in its filter, and
takes the custom field definitions for its filter and rows. Reading them through the ORM
on every request cost more than the page's own query: compiling the query, building a
model instance per row (a millisecond and a half for a hundred users). A value made with
``kept_while_rows_unchanged`` is built once and kept; each use still reads its rows,
with SQL the ORM compiled once for the arguments and run as it is, and compares them
with the rows the value was built from. So a change made anywhere — this process,
another server process, the worker, a management command — is seen by the very next
request, and nothing has to remember to clear anything.

The rows query must select every column the value depends on, in a fixed order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from django.db.models import QuerySet

Value = TypeVar("Value")


def kept_while_rows_unchanged(rows: Callable[..., QuerySet]):
    """Decorate ``build(rows, *args)``: its value is kept, per arguments, while
    ``rows(*args)`` (a ``values_list`` query) reads the same rows as when it was built.
    ``build`` gets those rows as the database driver gave them (no field conversions)."""

    def decorate(build: Callable[..., Value]) -> Callable[..., Value]:
        prepared: dict = {}   # (vendor, args) -> (sql, params)
        kept: dict = {}       # (vendor, args) -> (rows, value)

        @functools.wraps(build)
        def value(*args):
            key = (connection.vendor, args)
            statement = prepared.get(key)
            if statement is None:
                statement = prepared[key] = rows(*args).query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(*statement)
                current = cursor.fetchall()
            entry = kept.get(key)
            if entry is None or entry[0] != current:
                # Built after the rows were read: never older than the rows it is kept for.
                entry = kept[key] = (current, build(current, *args))
            return entry[1]

        return value

    return decorate
