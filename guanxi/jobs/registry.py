"""Job handlers by kind. A domain registers its handlers in its ``tasks.py``:

    @job_handler("core.import_contacts")
    def import_contacts(job, progress):
        ...
        return {"created": 10}

The handler gets the ``Job`` row and a ``Progress`` reporter and returns a JSON-safe
result. It must be idempotent: a job interrupted by a crash runs again from the start
(or from its own checkpoint in ``job.result``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable

HANDLERS: dict[str, Callable] = {}
# The job whose handler is running in this thread, for whoever wants to know what caused
# a side effect (the outbox records which job sent a message); None outside a job.
running_job: ContextVar = ContextVar("running_job", default=None)


def job_handler(kind: str):
    def register(function: Callable) -> Callable:
        HANDLERS[kind] = function
        return function

    return register
