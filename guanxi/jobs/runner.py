"""The in-process worker for zero-service mode.

``guanxi serve`` on SQLite starts Huey's consumer (worker threads plus its scheduler for
delayed and periodic jobs) inside the web process, so one command runs everything.
With Redis configured, ``guanxi worker`` runs the same consumer as separate processes.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
_consumer = None


def start_inprocess_worker(workers: int = 2):
    global _consumer
    if _consumer is not None:
        return _consumer
    from huey.consumer import Consumer
    from huey.contrib.djhuey import HUEY

    from guanxi.jobs.services import jobs_run_due

    _consumer = Consumer(HUEY, workers=workers, worker_type="thread", periodic=True, check_worker_health=False)
    _consumer.start()
    jobs_run_due()  # anything queued before a restart goes back on the queue now
    logger.info("in-process job worker started with %d threads", workers)
    return _consumer


def stop_inprocess_worker() -> None:
    global _consumer
    if _consumer is not None:
        _consumer.stop(graceful=True)
        _consumer = None
