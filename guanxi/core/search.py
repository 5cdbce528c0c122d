"""Global search over customers: full-text on SQLite FTS5 and PostgreSQL, phones by E.164.

The index text is ``search_text`` on accounts and contacts (see ``normalize.search_text``).
SQLite keeps an external-content FTS5 table in step with triggers (core migration
``0002_search_indexes``). PostgreSQL stores ``to_tsvector('simple', search_text)`` in the
generated column ``search_vector`` with a GIN index on it (core migration
``0006_postgres_search_vector``), so a row the index gives is checked without computing its
vector again; other apps' tables (``guanxi.service``) index the expression itself.

Speed at a million rows (SPEC §1: search and lists answer in ≤ 50 ms). A full-text index
finds the matching rows but cannot order them by name or date, and the planner cannot
tell a query matching ten rows from one matching seventy thousand (a common surname such
as 王). So ``filter_full_text`` first counts the matches, up to ``FEW_MATCHES``, and then
shapes the filter accordingly:

- few matches: the database reads those rows and sorts them — cheap, whatever the order;
- many matches: it walks the index that gives the list its order (and its record scope,
  e.g. a rep's own contacts by name) and keeps the rows that match, stopping once the page
  is full.

``newest_matches`` serves the global search box, which shows a short list and may stop
looking after the newest few thousand matches (see ``selectors.global_search``).
"""

from __future__ import annotations

import re
import time

from django.db import connection
from django.db.models import QuerySet

from guanxi.core.normalize import PhoneError, is_cjk, looks_like_phone, normalize_phone, search_tokens

FTS_TABLES = {"core_contact": "core_contact_fts", "core_account": "core_account_fts"}
# Up to this many matches the rows are read and sorted; beyond it the ordering index is walked.
FEW_MATCHES = 5000
# A list of all records sorted by name keeps the matches of a name together: every 陈 is
# next to the others, after most other names, so a walk from the start of the order passes
# hundreds of thousands of names before the first match (a third of a second at a
# million contacts, against 25 ms to read and sort the 24,000 matches). Callers listing
# all records by name pass this bound instead (see ``filter_full_text``).
FEW_MATCHES_IN_NAME_ORDER = 100_000
_COMPLETE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,63}")


def _word_groups(query: str) -> list[tuple[list[str], bool]]:
    """Tokens of each typed word, and whether its last token may match as a prefix."""
    groups = []
    for word in query.split():
        tokens = search_tokens(word)
        if tokens:
            groups.append((tokens, _as_prefix(word, tokens[-1])))
    return groups


def _as_prefix(word: str, last_token: str) -> bool:
    """The last token of a word matches as a prefix ("wan" finds "wang"), except when a
    prefix could only find itself and costs far more to look up than the exact term: a
    Chinese character (each is a token of its own) and the end of a complete email
    address ("com" of "wang@example.com" would otherwise merge every token starting with
    "com", a third of a second at a million contacts)."""
    if len(last_token) == 1 and is_cjk(last_token):
        return False
    return not _COMPLETE_EMAIL.fullmatch(word.strip().lower())


def _sqlite_match(groups: list[tuple[list[str], bool]]) -> str:
    # Each typed word becomes a phrase; the last token of a phrase matches as a prefix.
    phrases = []
    for tokens, prefix in groups:
        phrase = " ".join(token.replace('"', '""') for token in tokens)
        phrases.append(f'"{phrase}" *' if prefix else f'"{phrase}"')
    return " AND ".join(phrases)


def _postgres_tsquery(groups: list[tuple[list[str], bool]]) -> str:
    # Tokens are alphanumeric (see search_tokens), so quoting them is enough to be safe.
    phrases = []
    for tokens, prefix in groups:
        last = f"'{tokens[-1]}':*" if prefix else f"'{tokens[-1]}'"
        quoted = [f"'{token}'" for token in tokens[:-1]] + [last]
        phrases.append("(" + " <-> ".join(quoted) + ")")
    return " & ".join(phrases)


# Tables whose vector PostgreSQL stores in a column (core migration 0006): checking a row
# reads it instead of computing to_tsvector again, about 40 µs apiece for Chinese text.
POSTGRES_VECTOR_COLUMNS = {"core_contact": "search_vector", "core_account": "search_vector"}


def _postgres_vector(table: str) -> str:
    column = POSTGRES_VECTOR_COLUMNS.get(table)
    return f"{table}.{column}" if column else f"to_tsvector('simple'::regconfig, {table}.search_text)"


def _postgres_condition(table: str) -> str:
    return f"{_postgres_vector(table)} @@ to_tsquery('simple'::regconfig, %s)"


def _match_count(table: str, groups: list[tuple[list[str], bool]], at_most: int) -> int:
    """How many rows of ``table`` match, counting no further than ``at_most``."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {_postgres_condition(table)} "
                           "LIMIT %s) AS matches", [_postgres_tsquery(groups), at_most])
        else:
            fts_table = FTS_TABLES[table]
            cursor.execute(f"SELECT count(*) FROM (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH %s "
                           "LIMIT %s)", [_sqlite_match(groups), at_most])
        return cursor.fetchone()[0]


def _postgres_few_matches(table: str, groups: list[tuple[list[str], bool]], at_most: int) -> list[int] | None:
    """The ids of the rows of ``table`` that match, when there are no more than ``at_most``.

    Reading the ids is the count itself: counting first and matching again in the filter
    read every match twice, and a phrase (the characters of a Chinese name, 周 <-> 海)
    makes PostgreSQL check each candidate the index gives against its vector (read from
    ``search_vector`` for contacts and accounts; computed again, about 40 µs apiece for
    Chinese text, where the expression is indexed)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {table}.id FROM {table} WHERE {_postgres_condition(table)} LIMIT %s",
                       [_postgres_tsquery(groups), at_most + 1])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= at_most else None


def filter_full_text(queryset: QuerySet, query: str, few_matches: int | None = None) -> QuerySet:
    """Narrow ``queryset`` (contacts, accounts, or another table in ``FTS_TABLES``) to rows
    whose search text matches every word of ``query``. Costs one query to count matches
    (see the module docstring; on PostgreSQL it reads their ids, which are then the
    filter); the filter itself is one condition of the caller's query.
    Up to ``few_matches`` (default ``FEW_MATCHES``) the matches are read and sorted."""
    groups = _word_groups(query)
    if not groups:
        return queryset.none()
    table = queryset.model._meta.db_table
    few_matches = FEW_MATCHES if few_matches is None else few_matches
    if connection.vendor == "postgresql":
        ids = _postgres_few_matches(table, groups, few_matches)
        if ids is not None:
            # An init plan (computed once, first), so the rows are read by primary key: given
            # the list itself, the planner may walk the list's order and scan the list per row.
            return queryset.extra(where=[f"{table}.id = ANY(ARRAY(SELECT unnest(%s::bigint[])))"], params=[ids])
        return queryset.extra(where=[_postgres_condition(table)], params=[_postgres_tsquery(groups)])
    few = _match_count(table, groups, few_matches + 1) <= few_matches
    fts_table = FTS_TABLES[table]
    # With many matches the unary + keeps SQLite from driving the query by the match list,
    # so it walks the ordering (or scope) index and probes the matches, once collected.
    column = f"{table}.id" if few else f"+{table}.id"
    return queryset.extra(
        where=[f"{column} IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH %s)"],
        params=[_sqlite_match(groups)],
    )


# PostgreSQL looks for the newest matches among the newest ids first, this many per match wanted.
NEWEST_WINDOW_PER_MATCH = 32


def _window_for(at_most: int, density: float) -> int:
    """Ids a window of the newest needs to hold half as many matches again as ``at_most``
    where ``density`` of the ids match."""
    return int(at_most * 3 / (2 * density))


def _worth_a_window(window: float, ids: float) -> bool:
    # Over a quarter of the ids, the key range costs more than it saves.
    return window * 4 < ids


# How long a process trusts the planner statistics it read for that choice.
COMMON_TERMS_SECONDS = 600
_common_terms: dict[str, tuple[float, dict[str, float], float, float]] = {}


def _postgres_common_terms(table: str) -> tuple[dict[str, float], float, float] | None:
    """The share of rows holding each of the most common terms of ``table``'s stored vector
    (PostgreSQL's statistics, ``pg_stats.most_common_elems``), the smallest listed share
    (which every term not listed stays under) and the table's estimated rows; ``None``
    without statistics."""
    column = POSTGRES_VECTOR_COLUMNS.get(table)
    if column is None:
        return None
    now = time.monotonic()
    cached = _common_terms.get(table)
    if cached is None or now - cached[0] > COMMON_TERMS_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
                           "FROM pg_stats s JOIN pg_class c ON c.oid = %s::regclass "
                           "WHERE s.schemaname = current_schema() AND s.tablename = %s AND s.attname = %s",
                           [table, table, column])
            row = cursor.fetchone()
        terms, floor, rows = {}, 1.0, 0.0
        if row and row[0] and row[1]:
            terms, rows = dict(zip(row[0], row[1])), float(row[2])
            floor = min(terms.values())
        cached = _common_terms[table] = (now, terms, floor, rows)
    _when, terms, floor, rows = cached
    return (terms, floor, rows) if terms and rows > 0 else None


def _estimated_matches(table: str, groups: list[tuple[list[str], bool]]) -> tuple[float, float] | None:
    """An upper estimate of the share of rows matching ``groups`` (every group must match:
    the smallest group's share), and the table's estimated rows; ``None`` without
    statistics."""
    common = _postgres_common_terms(table)
    if common is None or not groups:
        return None
    terms, floor, rows = common
    shares = []
    for tokens, prefix in groups:
        group = []
        for position, token in enumerate(tokens):
            if prefix and position == len(tokens) - 1:
                # the listed terms with this prefix, and the unlisted ones (each under the floor) once
                group.append(sum(share for term, share in terms.items() if term.startswith(token)) + floor)
            else:
                group.append(terms.get(token, floor))
        shares.append(min(group))
    return min(shares), rows


def newest_matches(queryset: QuerySet, query: str, at_most: int) -> QuerySet:
    """Narrow ``queryset`` to the ``at_most`` newest rows (highest ids) of its table whose
    search text matches ``query``: a bounded candidate set for a short result list."""
    groups = _word_groups(query)
    if not groups:
        return queryset.none()
    table = queryset.model._meta.db_table
    if connection.vendor == "postgresql":
        # An init plan, as in filter_full_text: given the list itself (2,000 ids), the planner
        # may walk the name index and test each row against the list, 3 s for 王 at a million
        # contacts once the table's pages are all-visible, instead of reading the ids by key.
        return queryset.extra(where=[f"{table}.id = ANY(ARRAY(SELECT unnest(%s::bigint[])))"],
                              params=[_postgres_newest_matches(table, _postgres_tsquery(groups), at_most,
                                                               _estimated_matches(table, groups))])
    fts_table = FTS_TABLES[table]
    return queryset.extra(
        where=[f"{table}.id IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH %s "
               "ORDER BY rowid DESC LIMIT %s)"],
        params=[_sqlite_match(groups), at_most])


def _postgres_newest_matches(table: str, tsquery: str, at_most: int,
                             estimate: tuple[float, float] | None = None) -> list[int]:
    """The ids of the ``at_most`` newest matches on PostgreSQL.

    Its GIN index finds the matches but cannot order them, and asked for the newest the
    planner walks the primary key backwards and checks every row until enough match (1.6 s
    for "james" at a million contacts when each check computed ``to_tsvector``; reading the
    stored vector still reads the row). Reading every match instead
    fetches each of their rows (0.2 s for 王's 63,000). So the matches are first looked for
    among the newest ``at_most × NEWEST_WINDOW_PER_MATCH`` ids, where the index and the key
    range are combined before any row is read (the range bound is a subquery, so the
    planner does not take the range for a short walk); a window that holds too few is
    widened once by the density of matches it showed, and only past that (or with none in
    it) are all matches read. Each is fenced with ``OFFSET 0`` so the planner keeps it
    apart from the ordering.

    ``estimate`` (the statistics' share of matching rows, and the rows) picks the window
    the density calls for at once: a word under one match in NEWEST_WINDOW_PER_MATCH ids
    starts with the window that would hold half as many again as wanted, or reads all its
    matches when that window would be the wider part of the table. A first window too
    narrow cost a second scan of the index (6-20 ms of a 35-50 ms search for "smith" or
    "wang" at a million contacts). The estimate only picks the first window: what it
    holds is checked as before, so a wrong estimate costs time, never results.
    """
    condition = _postgres_condition(table)
    window = at_most * NEWEST_WINDOW_PER_MATCH
    if estimate is not None and estimate[0] * NEWEST_WINDOW_PER_MATCH < 1:
        share, rows = estimate
        wider = _window_for(at_most, share) if share > 0 else int(rows) + 1
        if not _worth_a_window(wider, rows):
            return _postgres_all_matches_newest(table, condition, tsquery, at_most)
        window = wider
    # The newest id comes along (an init plan, apart from the rest): a window reaching back
    # past the first id holds every match, and nothing wider is read.
    recent = (f"SELECT id, (SELECT max(id) FROM {table}) FROM (SELECT {table}.id FROM {table} WHERE {condition} "
              f"AND {table}.id > (SELECT max(id) FROM {table}) - %s OFFSET 0) AS recent ORDER BY id DESC LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(recent, [tsquery, window, at_most])
        rows = cursor.fetchall()
        if rows and len(rows) < at_most and window < rows[0][1]:
            wider = _window_for(at_most, len(rows) / window)
            if _worth_a_window(wider, rows[0][1]):
                window = wider
                cursor.execute(recent, [tsquery, window, at_most])
                rows = cursor.fetchall()
        if len(rows) == at_most or (rows and window >= rows[0][1]):
            return [row[0] for row in rows]
    return _postgres_all_matches_newest(table, condition, tsquery, at_most)


def _postgres_all_matches_newest(table: str, condition: str, tsquery: str, at_most: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM (SELECT {table}.id FROM {table} WHERE {condition} OFFSET 0) AS matches "
                       "ORDER BY id DESC LIMIT %s", [tsquery, at_most])
        return [row[0] for row in cursor.fetchall()]


def phone_from_query(query: str) -> str | None:
    """E.164 form of the query when it reads as a phone number in any format, else None."""
    if not looks_like_phone(query):
        return None
    try:
        return normalize_phone(query)
    except PhoneError:
        return None
