"""Job handlers by kind. A domain registers its handlers in its ``tasks.py``:

    @job_handler("core.import_contacts")
    def import_contacts(job, progress):
        ...
        return {"created": 10}

The handler gets the ``Job`` row and a ``Progress`` reporter and returns a JSON-safe
result. It must be idempotent: a job interrupted by a crash runs again from the start
(or from its own checkpoint in ``job.result``).

A result may be large (a report job keeps every row): the jobs pages show a one-line
summary of it, written by the function a domain registers with ``@job_summary(kind)``
(result → text), else a generic one (``result_summary``); the whole result stays
available, folded, on the job's page.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable

from django.utils.translation import ngettext

HANDLERS: dict[str, Callable] = {}
SUMMARIES: dict[str, Callable[[dict], str]] = {}
SUMMARY_PARTS = 6        # a generic summary names at most this many keys
SUMMARY_VALUE_CHARS = 60
# The job whose handler is running in this thread, for whoever wants to know what caused
# a side effect (the outbox records which job sent a message); None outside a job.
running_job: ContextVar = ContextVar("running_job", default=None)


def job_handler(kind: str):
    def register(function: Callable) -> Callable:
        HANDLERS[kind] = function
        return function

    return register


def job_summary(kind: str):
    """Register how a result of ``kind`` reads in one line on the jobs pages."""
    def register(function: Callable[[dict], str]) -> Callable[[dict], str]:
        SUMMARIES[kind] = function
        return function

    return register


def _value_summary(value) -> str:
    if isinstance(value, (list, tuple)):
        return ngettext("%(count)d item", "%(count)d items", len(value)) % {"count": len(value)}
    if isinstance(value, dict):
        return ngettext("%(count)d entry", "%(count)d entries", len(value)) % {"count": len(value)}
    text = str(value)
    return text if len(text) <= SUMMARY_VALUE_CHARS else text[:SUMMARY_VALUE_CHARS - 1] + "…"


def result_summary(kind: str, result: dict | None) -> str:
    """One line about a job's result: the kind's own summary, or its first keys with short
    values (lists and mappings counted, not printed)."""
    if not result:
        return ""
    summarize = SUMMARIES.get(kind)
    if summarize is not None:
        try:
            return summarize(result)
        except (KeyError, TypeError, ValueError, AttributeError):  # an older result's shape: say it generically
            pass
    parts = [f"{key}: {_value_summary(value)}" for key, value in list(result.items())[:SUMMARY_PARTS]]
    if len(result) > SUMMARY_PARTS:
        parts.append("…")
    return " · ".join(parts)
