"""Pagination of every REST API list: ``limit``/``offset``, a link to the next page, and a
total only when asked for.

Counting a million rows costs more than reading one page of them, so a list reads
``limit + 1`` rows to learn whether a next page exists and runs ``COUNT(*)`` only when the
client sends ``?count=true``. Use it on a route that returns a queryset::

    @router.get("/contacts", response=list[ContactOut])
    @paginate(ApiListPagination)
    def contact_list(request, ...):
        return selectors.contact_list(request.auth, ...)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.pagination import PaginationBase

MAX_LIMIT = 200


class ApiListPagination(PaginationBase):
    class Input(Schema):
        limit: int = Field(settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT,
                           description=f"Items per page, 1 to {MAX_LIMIT}.")
        offset: int = Field(0, ge=0, description="Items to skip from the start of the list.")
        count: bool = Field(False, description="Also return the total number of matching items "
                                               "(costs a count over the whole list).")

    class Output(Schema):
        items: list[Any] = Field(description="The items of this page.")
        next: str | None = Field(None, description="Path and query of the next page; null on the last page.")
        count: int | None = Field(None, description="Total matching items; only when `count=true` was sent.")

    def paginate_queryset(self, queryset: QuerySet, pagination: Input, request, **params: Any) -> dict:
        start, limit = pagination.offset, pagination.limit
        rows = list(queryset[start:start + limit + 1])
        next_link = self._link(request, start + limit) if len(rows) > limit else None
        total = None
        if pagination.count:
            total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        return {"items": rows[:limit], "next": next_link, "count": total}

    @staticmethod
    def _link(request, offset: int) -> str:
        query = request.GET.copy()
        query["offset"] = str(offset)
        return f"{request.path}?{query.urlencode()}"
