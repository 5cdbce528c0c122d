"""Global search over customers: full-text on SQLite FTS5 and PostgreSQL, phones by E.164.

The index text is ``search_text`` on accounts and contacts (see ``normalize.search_text``).
SQLite keeps an external-content FTS5 table in step with triggers; PostgreSQL has a GIN
expression index on ``to_tsvector('simple', search_text)``. Both are created by the
core migration ``0002_search_indexes``.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from guanxi.core.normalize import PhoneError, looks_like_phone, normalize_phone, search_tokens

FTS_TABLES = {"core_contact": "core_contact_fts", "core_account": "core_account_fts"}


def _word_groups(query: str) -> list[list[str]]:
    groups = []
    for word in query.split():
        tokens = search_tokens(word)
        if tokens:
            groups.append(tokens)
    return groups


def _sqlite_match(groups: list[list[str]]) -> str:
    # Each typed word becomes a phrase; the last token of a phrase matches as a prefix.
    phrases = []
    for tokens in groups:
        phrase = " ".join(token.replace('"', '""') for token in tokens)
        phrases.append(f'"{phrase}" *')
    return " AND ".join(phrases)


def _postgres_tsquery(groups: list[list[str]]) -> str:
    # Tokens are alphanumeric (see search_tokens), so quoting them is enough to be safe.
    phrases = []
    for tokens in groups:
        quoted = [f"'{token}'" for token in tokens[:-1]] + [f"'{tokens[-1]}':*"]
        phrases.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(phrases)


def filter_full_text(queryset: QuerySet, query: str) -> QuerySet:
    """Narrow ``queryset`` (contacts or accounts) to rows whose search text matches."""
    groups = _word_groups(query)
    if not groups:
        return queryset.none()
    table = queryset.model._meta.db_table
    if connection.vendor == "postgresql":
        tsquery = _postgres_tsquery(groups)
        return queryset.extra(
            where=[f"to_tsvector('simple'::regconfig, {table}.search_text) @@ to_tsquery('simple'::regconfig, %s)"],
            params=[tsquery],
        )
    fts_table = FTS_TABLES[table]
    return queryset.extra(
        where=[f"{table}.id IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH %s)"],
        params=[_sqlite_match(groups)],
    )


def phone_from_query(query: str) -> str | None:
    """E.164 form of the query when it reads as a phone number in any format, else None."""
    if not looks_like_phone(query):
        return None
    try:
        return normalize_phone(query)
    except PhoneError:
        return None
