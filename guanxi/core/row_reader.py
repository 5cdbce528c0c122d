"""Rows of one model read with SQL prepared once, built into instances as the ORM builds them.

On the busiest paths (caller lookup, the lists' related rows, sessions, API tokens)
compiling an ORM query costs several times more than running it: a plain ``WHERE`` on
an index runs in a tenth of a millisecond, its compiling takes half a millisecond or
more. ``RowReader`` keeps the ``SELECT`` and the database converters of a model's columns
per database vendor, takes the condition as SQL with parameters, and builds the instances
with ``Model.from_db`` after the same conversions the ORM applies.
"""

from __future__ import annotations

from django.db import connection


class RowReader:
    """Reads rows of one model with hand-written SQL conditions and builds the instances as
    Django would (same database converters, ``Model.from_db``), with the column list and
    converters worked out once per model, columns and database vendor.

    ``columns`` (field names, the primary key first) reads only those, like ``only()``;
    ``lead`` is an SQL expression read before the model's columns, with ``join`` the
    tables it needs: the reader then answers ``(lead value, instance)`` pairs."""

    _readers: dict = {}

    def __init__(self, model, columns: tuple[str, ...] | None = None, lead: str = "", join: str = ""):
        self.model = model
        options = model._meta
        fields = options.concrete_fields if columns is None else [options.get_field(name) for name in columns]
        quote = connection.ops.quote_name
        table = quote(options.db_table)
        selected = ([lead] if lead else []) + [f"{table}.{quote(field.column)}" for field in fields]
        self.select = f"SELECT {', '.join(selected)} FROM {table} {join + ' ' if join else ''}"
        self.lead = bool(lead)
        self.attnames = [field.attname for field in fields]
        self.converters = []
        for index, field in enumerate(fields, start=1 if lead else 0):
            column = field.get_col(options.db_table)
            functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if functions:
                self.converters.append((index, column, functions))

    @classmethod
    def of(cls, model, columns: tuple[str, ...] | None = None, lead: str = "", join: str = "") -> RowReader:
        key = (connection.vendor, model, columns, lead, join)
        reader = cls._readers.get(key)
        if reader is None:
            reader = cls._readers[key] = cls(model, columns, lead, join)
        return reader

    def __call__(self, condition: str, params: list) -> list:
        with connection.cursor() as cursor:
            cursor.execute(self.select + condition, params)
            rows = cursor.fetchall()
        instances = []
        for row in rows:
            values = list(row)
            for index, column, functions in self.converters:
                value = values[index]
                for function in functions:
                    value = function(value, column, connection)
                values[index] = value
            if self.lead:
                instances.append((values[0], self.model.from_db(connection.alias, self.attnames, values[1:])))
            else:
                instances.append(self.model.from_db(connection.alias, self.attnames, values))
        return instances

    def where_in(self, column: str, values) -> list:
        """Rows whose ``column`` (SQL, quoted) is one of ``values``; no query for none."""
        values = list(values)
        if not values:
            return []
        return self(f"WHERE {column} IN ({', '.join(['%s'] * len(values))})", values)
