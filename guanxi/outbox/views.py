"""The Outbox pages: kept mail, searchable and paged, and one message read safely (its HTML
only inside a sandboxed frame, never in the page itself)."""

from __future__ import annotations

from django.shortcuts import render

from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.outbox import selectors
from guanxi.outbox.backend import outbox_in_use


@staff_page
def outbox_list(request):
    query = request.GET.get("q", "")
    window = page_window(selectors.outbox_message_list(request.user, query=query), request.GET.get("page"))
    return render(request, "outbox/list.html", {"window": window, "query": query, "outbox_in_use": outbox_in_use()})


@staff_page
def outbox_detail(request, message_id: int):
    message = selectors.access_outbox_message_by_id(request.user, message_id)
    return render(request, "outbox/detail.html", {"message": message, "parts": selectors.outbox_message_parts(message),
                                                  "outbox_in_use": outbox_in_use()})
