"""Full-text search over cases and knowledge articles, Chinese included.

The same index text and engines as customer search (``guanxi.core.search``): a
``search_text`` column of ``normalize.search_text`` tokens (every Chinese character its
own token), an FTS5 table on SQLite and a GIN index on PostgreSQL, both created by this
app's migration ``0002_search_indexes``.

Searching ("find what I typed") reuses core's filter: every word must match. Suggesting
articles for a new case ("what might this be about") is looser: any significant word or
pair of adjacent Chinese characters may match, and the best matches come first
(FTS5's bm25 on SQLite, ``ts_rank`` on PostgreSQL).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from guanxi.core.normalize import is_cjk, search_tokens
from guanxi.core.search import FTS_TABLES, filter_full_text

# Register this app's FTS5 tables with core's filter (see core.search.FTS_TABLES).
SERVICE_FTS_TABLES = {"service_case": "service_case_fts", "service_knowledgearticleversion": "service_kb_fts"}
FTS_TABLES.update(SERVICE_FTS_TABLES)

# Words too common in problem descriptions to say anything about which problem it is.
STOP_WORDS = frozenset(
    "a an and are as at be but by can cannot could do does for from has have how i in is it its me my no not of on "
    "or our please so that the their there this to was we what when where which why will with you your hello hi "
    "thanks thank dear regards".split())
MAX_SUGGESTION_TERMS = 24


def filter_text(queryset: QuerySet, query: str) -> QuerySet:
    """Rows of ``queryset`` (cases or article versions) matching every word of ``query``."""
    return filter_full_text(queryset, query)


def suggestion_terms(text: str) -> list[list[str]]:
    """Terms for suggestions: significant words, and adjacent Chinese character pairs
    (a lone character such as 无 or 法 matches too much to mean anything)."""
    tokens = search_tokens(text)
    terms: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def add(term: list[str]) -> None:
        key = tuple(term)
        if key not in seen:
            seen.add(key)
            terms.append(term)

    for index, token in enumerate(tokens):
        if is_cjk(token[0]):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if following and is_cjk(following[0]):
                add([token, following])
        elif len(token) >= 3 and token not in STOP_WORDS and not token.isdigit():
            add([token])
    return terms[:MAX_SUGGESTION_TERMS]


def ranked_matches(queryset: QuerySet, text: str, limit: int) -> list[tuple[int, float]]:
    """(id, score) of the best-matching rows of ``queryset`` for free ``text``; higher is better."""
    terms = suggestion_terms(text)
    if not terms:
        return []
    table = queryset.model._meta.db_table
    candidate_sql, candidate_params = queryset.values("id").query.sql_with_params()
    if connection.vendor == "postgresql":
        tsquery = " | ".join("(" + " <-> ".join(f"'{token}'" for token in term) + ")" for term in terms)
        sql = (f"SELECT id, ts_rank(to_tsvector('simple'::regconfig, search_text), "
               f"to_tsquery('simple'::regconfig, %s)) AS score FROM {table} "
               f"WHERE to_tsvector('simple'::regconfig, search_text) @@ to_tsquery('simple'::regconfig, %s) "
               f"AND id IN ({candidate_sql}) ORDER BY score DESC, id LIMIT %s")
        params = [tsquery, tsquery, *candidate_params, limit]
    else:
        fts = FTS_TABLES[table]
        match = " OR ".join('"' + " ".join(term) + '"' for term in terms)
        # bm25 is lower for better matches; negate so that higher is better on both engines.
        sql = (f"SELECT rowid, -bm25({fts}) AS score FROM {fts} WHERE {fts} MATCH %s "
               f"AND rowid IN ({candidate_sql}) ORDER BY bm25({fts}), rowid LIMIT %s")
        params = [match, *candidate_params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], float(row[1])) for row in cursor.fetchall()]
