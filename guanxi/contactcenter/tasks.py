"""Background work of the contact center.

The routing engine's timers do not run here: the engine lives in the web process and its
own timer thread ticks it (``routing.RoutingService``); a job worker in another process
must never build a second engine. What a worker may do is close IVR sessions the
telephony side abandoned without saying so (a lost status callback): they touch no queue.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from guanxi.contactcenter import services
from guanxi.jobs.registry import job_handler


@job_handler("contactcenter.close_stale_ivr_calls")
def close_stale_ivr_calls(job, progress) -> dict:
    """End calls that sat in the IVR for ``params["minutes"]`` (default 30) without a step."""
    return {"closed": services.calls_close_stale_ivr(minutes=int(job.params.get("minutes", 30)))}


@db_periodic_task(crontab(minute="*/10"))
def close_stale_ivr_calls_every_ten_minutes() -> None:
    services.calls_close_stale_ivr(minutes=30)
