"""PostgreSQL: contacts and accounts keep their full-text vector in a stored column.

Until now the GIN index of 0002 was on the expression ``to_tsvector('simple', search_text)``.
The index finds candidate rows, but it stores no positions, so a phrase (the characters of
a Chinese name, 王 <-> 芳) and any walk of an ordering index that checks the condition row
by row made PostgreSQL compute ``to_tsvector`` again for every row it looked at, about
40 µs apiece for Chinese text. ``search_vector`` is that same vector, computed by
PostgreSQL itself whenever ``search_text`` is written (a generated column: no code sets
it, imports by ``COPY`` included), and the GIN index (same name as before) is on it;
``search.py`` reads the column.

PostgreSQL only, in SQL: the models do not know the column (Django never writes a
generated column, and ``makemigrations`` has nothing to add), and SQLite keeps its FTS5
tables of 0002 unchanged. Adding the column rewrites each table once (about a minute at
a million contacts) and leaves no page marked all-visible, so the lists' index-only scans
would read the table again (page 200 of the contacts by name: 43 -> 77 ms p95) until a
vacuum: the migration vacuums both tables once it has committed. While a generated column depends on ``search_text``, PostgreSQL
refuses to change that column's type: such a migration drops ``search_vector`` first and
adds it back after.
"""

from django.db import migrations, transaction

TABLES = ("core_contact", "core_account")
VECTOR = "to_tsvector('simple'::regconfig, search_text)"


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=connection.alias):
        schema_editor.execute("SET LOCAL maintenance_work_mem = '1GB'")  # the GIN build, a fifth faster
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector "
                                  f"GENERATED ALWAYS AS ({VECTOR}) STORED")
            # Under the name it had, so that index statements stored by an import that suspended
            # it before this migration (bulk_writes.restore_indexes) find it there and add nothing.
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_gin")
            schema_editor.execute(f"CREATE INDEX {table}_search_gin ON {table} USING GIN (search_vector)")
    if not connection.in_atomic_block:  # VACUUM runs outside a transaction only
        for table in TABLES:
            schema_editor.execute(f"VACUUM (ANALYZE) {table}")


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(using=connection.alias):
        for table in TABLES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_gin")
            schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
            schema_editor.execute(f"CREATE INDEX {table}_search_gin ON {table} USING GIN ({VECTOR})")


class Migration(migrations.Migration):
    atomic = False  # for the VACUUM; the schema change itself is one transaction
    dependencies = [("core", "0005_postgres_updated_id_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
