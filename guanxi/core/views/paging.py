"""Pagination without ``COUNT(*)``.

A list over a million contacts cannot afford to count them on every page (SPEC §1:
p95 ≤ 50 ms and ≤ 10 SQL queries per page). ``page_window`` fetches one row more than
the page size instead: if it arrives there is a next page. Pages are numbered, so a link
to page 3 can be shared and bookmarked.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

LIST_PAGE_SIZE = 50
MAX_PAGE_NUMBER = 100_000  # beyond this the offset scan costs more than a search would
# From this offset on a page is read in two steps (see ``page_rows``); below it the
# skipped rows are too few for the second step to pay off.
KEYS_FIRST_OFFSET = 500


@dataclass(frozen=True)
class PageWindow:
    items: list
    number: int
    page_size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.items else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.items)


def page_number(raw) -> int:
    """The requested page number; anything unreadable means the first page."""
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE_NUMBER)


def page_rows(queryset, offset: int, count: int, full_text: bool = False) -> list:
    """``list(queryset[offset:offset + count])``, fast also far down a long list.

    The database cannot jump to an offset: it walks past every skipped row, and for a
    plain slice it reads each of them in full with its joined account and owner. Far down
    the list the keys of the page are read first, from the index that orders the list
    (SQLite and PostgreSQL walk the index alone), then only those rows in full: still one
    query, with the keys as a subquery.

    ``full_text``: the list is filtered by a full-text query, whose matches the
    database may read and sort (see ``search.filter_full_text``); it would join the account
    and owner of every match before sorting them, tens of thousands for a common surname.
    The page's keys are then read first, in one query, and its rows in a second one.
    """
    if full_text and _plain_model_rows(queryset):
        return _rows_of_keys(queryset, list(queryset.values_list("pk", flat=True)[offset:offset + count]))
    if offset < KEYS_FIRST_OFFSET or not isinstance(queryset, QuerySet) or not queryset.query.order_by:
        return list(queryset[offset:offset + count])
    keys = queryset.values("pk")[offset:offset + count]
    return list(queryset.filter(pk__in=keys))


def _plain_model_rows(queryset) -> bool:
    """A queryset of model instances with nothing computed (``_rows_of_keys`` reads those)."""
    return (isinstance(queryset, QuerySet) and queryset._fields is None and not queryset.query.annotations
            and not queryset.query.extra_select)


def _rows_of_keys(queryset: QuerySet, keys: list) -> list:
    """The rows of ``keys``, in that order, read as ``queryset`` reads its rows (same joins
    and columns) but without its filters: the keys were already filtered by it, and its
    full-text condition would be evaluated again."""
    if not keys:
        return []
    rows = queryset.model._default_manager.filter(pk__in=keys)
    rows.query.select_related = queryset.query.select_related
    rows.query.deferred_loading = queryset.query.deferred_loading
    by_key = {row.pk: row for row in rows}
    return [by_key[key] for key in keys if key in by_key]


def page_window(queryset, raw_page, page_size: int = LIST_PAGE_SIZE, full_text: bool = False) -> PageWindow:
    """One page of ``queryset`` (already ordered), in one query (two for ``full_text``,
    see ``page_rows``)."""
    number = page_number(raw_page)
    rows = page_rows(queryset, (number - 1) * page_size, page_size + 1, full_text)
    return PageWindow(items=rows[:page_size], number=number, page_size=page_size, has_next=len(rows) > page_size)
