"""PostgreSQL: contacts and accounts indexed by last change with the id, for the lists' "updated" sort.

A page far down a list sorted by last change reads its keys from the index that orders
the list. SQLite's index on ``updated_at`` carries the row id, so it serves alone; on
PostgreSQL that index did not, and page 200 of the contacts read 10,000 rows to learn
their ids. Created here in SQL for PostgreSQL only: declared on the models, SQLite would
get a second index of the same order, and changing the field's own index would make
SQLite rebuild the whole table (losing the full-text triggers of 0002).
"""

from django.db import migrations

TABLES = {"core_contact": "contact_updated_id", "core_account": "account_updated_id"}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, index in TABLES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (updated_at, id)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in TABLES.values():
            schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("core", "0004_contact_owner_updated_index")]
    operations = [migrations.RunPython(forwards, backwards)]
