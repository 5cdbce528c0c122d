"""Full-text indexes for case and knowledge-base search, as core's 0002 does for customers.

SQLite: external-content FTS5 tables kept in step by triggers.
PostgreSQL: GIN expression indexes on to_tsvector('simple', search_text).
"""

from django.db import migrations

FTS_TABLES = {"service_case": "service_case_fts", "service_knowledgearticleversion": "service_kb_fts"}


def _sqlite_statements(table: str, fts: str) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF search_text ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END",
    ]


def forwards(apps, schema_editor):
    for table, fts in FTS_TABLES.items():
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"CREATE INDEX {table}_search_gin ON {table} "
                                  "USING GIN (to_tsvector('simple'::regconfig, search_text))")
        else:
            for statement in _sqlite_statements(table, fts):
                schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
