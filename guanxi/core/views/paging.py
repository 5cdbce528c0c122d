"""Pagination without ``COUNT(*)``.

A list over a million contacts cannot afford to count them on every page (SPEC §1:
p95 ≤ 50 ms and ≤ 10 SQL queries per page). ``page_window`` fetches one row more than
the page size instead: if it arrives there is a next page. Pages are numbered, so a link
to page 3 can be shared and bookmarked.
"""

from __future__ import annotations

from dataclasses import dataclass

LIST_PAGE_SIZE = 50
MAX_PAGE_NUMBER = 100_000  # beyond this the offset scan costs more than a search would


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


def page_window(queryset, raw_page, page_size: int = LIST_PAGE_SIZE) -> PageWindow:
    """One page of ``queryset`` (already ordered) in a single query."""
    number = page_number(raw_page)
    offset = (number - 1) * page_size
    rows = list(queryset[offset:offset + page_size + 1])
    return PageWindow(items=rows[:page_size], number=number, page_size=page_size, has_next=len(rows) > page_size)
