"""The server's request threads (guanxi/request_threads.py): a request runs on a thread
kept from earlier requests, so the database connection that thread opened is used again
instead of a new one per request; requests that arrive together still run side by side,
and threads beyond those kept close their connections and end.

The requests go through the ASGI application as ``guanxi serve`` runs it, to a probe view
that says on which thread and connection it ran.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from channels.testing import HttpCommunicator
from django.conf import settings
from django.db import connections
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from guanxi.request_threads import KeptThreadsASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

SEEN: list[dict] = []          # what the probe saw, one entry per request
RELEASE = threading.Event()    # a "?wait" request holds its thread until this is set


def probe(request):
    connection = connections["default"]  # this thread's, not a proxy to the caller's
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    SEEN.append({"thread": threading.get_ident(), "connection": connection, "database": connection.connection})
    if "wait" in request.GET:
        RELEASE.wait(10)
    return HttpResponse("ok")


urlpatterns = [path("probe/", probe)]


def thread_recording_middleware(get_response):
    def middleware(request):
        SEEN.append({"middleware_thread": threading.get_ident()})
        return get_response(request)

    return middleware


@pytest.fixture
def handler():
    SEEN.clear()
    RELEASE.clear()
    with override_settings(ROOT_URLCONF=__name__):
        handler = KeptThreadsASGIHandler()
        yield handler
        RELEASE.set()
        handler.threads.close()


async def get(handler, path: str = "/probe/") -> int:
    communicator = HttpCommunicator(handler, "GET", path, headers=[(b"host", b"testserver")])
    response = await communicator.get_response(timeout=10)
    return response["status"]


def test_requests_one_after_another_use_the_same_thread_and_database_connection(handler):
    # when three requests come one after another
    async def scenario():
        return [await get(handler) for _ in range(3)]

    statuses = asyncio.run(scenario())

    # then all ran on one thread, on the connection the first request opened, still open
    assert statuses == [200, 200, 200]
    assert len({seen["thread"] for seen in SEEN}) == 1
    assert len({id(seen["database"]) for seen in SEEN}) == 1
    assert SEEN[-1]["connection"].connection is SEEN[0]["database"]
    assert len(handler.threads.idle) == 1


def test_requests_at_the_same_time_run_side_by_side(handler):
    # given a request still running (its view waits)
    async def scenario():
        slow = asyncio.ensure_future(get(handler, "/probe/?wait"))
        while not SEEN:
            await asyncio.sleep(0.01)
        # when another request arrives, it is answered while the first still runs
        quick = await get(handler)
        still_running = not slow.done()
        RELEASE.set()
        return quick, still_running, await slow

    quick, still_running, slow = asyncio.run(scenario())

    # then on another thread with its own connection; both threads are kept for later
    assert (quick, still_running, slow) == (200, True, 200)
    assert SEEN[0]["thread"] != SEEN[1]["thread"]
    assert SEEN[0]["database"] is not SEEN[1]["database"]
    assert len(handler.threads.idle) == 2


def test_threads_beyond_those_kept_close_their_connection_and_end(handler):
    # given a handler that keeps one thread, and two requests at the same time
    handler.threads.kept = 1

    async def scenario():
        slow = asyncio.ensure_future(get(handler, "/probe/?wait"))
        while not SEEN:
            await asyncio.sleep(0.01)
        await get(handler)
        RELEASE.set()
        await slow

    asyncio.run(scenario())

    # then one thread waits for the next request; the other closed its connection and ended
    assert len(handler.threads.idle) == 1
    kept = handler.threads.idle[0]
    kept_thread = kept.submit(threading.get_ident).result()
    (ended,) = [seen for seen in SEEN if seen["thread"] != kept_thread]
    for _ in range(100):
        if not any(thread.ident == ended["thread"] for thread in threading.enumerate()):
            break
        threading.Event().wait(0.05)
    assert not any(thread.ident == ended["thread"] for thread in threading.enumerate())
    in_memory = ended["connection"].vendor == "sqlite" and ended["connection"].is_in_memory_db()
    if not in_memory:  # Django never closes an in-memory SQLite database
        assert ended["connection"].connection is None


def test_middleware_and_view_run_in_one_call_on_the_request_thread():
    SEEN.clear()
    middleware = [*settings.MIDDLEWARE, f"{__name__}.thread_recording_middleware"]
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=middleware):
        handler = KeptThreadsASGIHandler()
        try:
            assert asyncio.run(get(handler)) == 200
            (thread,) = handler.threads.idle
            request_thread = thread.submit(threading.get_ident).result()
        finally:
            handler.threads.close()
    assert SEEN[0]["middleware_thread"] == SEEN[1]["thread"] == request_thread


def test_the_served_application_answers_pages_api_and_errors():
    from guanxi.asgi import application, django_application

    assert isinstance(django_application, KeptThreadsASGIHandler)

    async def scenario():
        answers = {}
        for path in ("/login/", "/api/v1/contacts", "/no-such-page/", "/contacts/"):
            communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"testserver")])
            answers[path] = await communicator.get_response(timeout=10)
        return answers

    answers = asyncio.run(scenario())
    login = answers["/login/"]
    assert login["status"] == 200 and b'name="csrfmiddlewaretoken"' in login["body"]
    assert any(name.lower() == b"set-cookie" and value.startswith(b"csrftoken=") for name, value in login["headers"])
    assert answers["/api/v1/contacts"]["status"] == 401
    assert json.loads(answers["/api/v1/contacts"]["body"]) == {"detail": "Authentication required."}
    assert answers["/no-such-page/"]["status"] == 404
    assert answers["/contacts/"]["status"] == 302  # to the sign-in page
    django_application.threads.close()
