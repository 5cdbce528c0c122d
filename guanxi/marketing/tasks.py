"""Background jobs of the marketing domain: thin wrappers around the services."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from guanxi.jobs.registry import job_handler
from guanxi.marketing import sending


@job_handler(sending.SEND_JOB)
def send_campaign(job, progress) -> dict:
    """Send what is due of a campaign; resumable, never sends a message twice (see ``sending``)."""
    report = sending.campaign_send(int(job.params["campaign_id"]), progress=progress)
    return report.as_dict()


@job_handler("marketing.decide_ab_test")
def decide_ab_test(job, progress) -> dict:
    from guanxi.marketing.services.ab_tests import ab_test_decide

    test = ab_test_decide(campaign_id=int(job.params["campaign_id"]))
    return {"winner": test.winner, "results": test.results}


@job_handler("marketing.event_reminders")
def event_reminders(job, progress) -> dict:
    from guanxi.marketing.services.events import events_send_reminders

    return {"sent": events_send_reminders()}


@db_periodic_task(crontab(minute="*/15"))
def event_reminders_every_quarter_hour() -> None:
    from guanxi.jobs.services import job_enqueue

    now = timezone.localtime()
    job_enqueue(actor=None, kind="marketing.event_reminders", title="Event reminders",
                idempotency_key=f"marketing.event_reminders:{now:%Y-%m-%dT%H}:{now.minute // 15}")
