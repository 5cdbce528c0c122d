"""Background work of the service domain: the SLA sweep every minute, the hourly closing
of long-resolved cases, retries of inbound email that failed, and the jobs that send email.

The periodic tasks are Huey's, run by the consumer's scheduler: inside ``guanxi serve``
with zero services configured (``guanxi.jobs.runner``), or by ``guanxi worker`` next to
Redis. They stay thin and call services.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from guanxi.jobs.registry import job_handler
from guanxi.service import email_out, services
from guanxi.service.models import CaseMessage, Survey


@db_periodic_task(crontab(minute="*"))
def sla_sweep_every_minute() -> None:
    """Fire due SLA warnings and breaches with their escalation rules, then give waiting
    cases to agents who became free."""
    services.sla_sweep()
    services.route_all_waiting()


@db_periodic_task(crontab(minute="23"))
def close_resolved_hourly() -> None:
    services.auto_close_resolved()


@db_periodic_task(crontab(minute="*/10"))
def retry_failed_inbound_email() -> None:
    """Emails that failed to become cases are tried again for a day."""
    from guanxi.service.email_in import inbound_email_retry_failed

    inbound_email_retry_failed()


def _final_attempt(job) -> bool:
    return job.attempts >= job.max_attempts


@job_handler("service.send_case_message")
def send_case_message(job, progress) -> dict:
    message = CaseMessage.objects.select_related("case").filter(pk=job.params["message_id"]).first()
    if message is None or message.delivery_status == "sent":
        return {"sent": False}
    try:
        email_out.send_case_message(message)
    except Exception:
        if _final_attempt(job):
            email_out.mark_failed(CaseMessage, message.pk)
        raise
    return {"sent": True, "to": message.to_addresses}


@job_handler("service.send_survey")
def send_survey(job, progress) -> dict:
    survey = Survey.objects.select_related("case").filter(pk=job.params["survey_id"]).first()
    if survey is None or survey.delivery_status == "sent":
        return {"sent": False}
    try:
        email_out.send_survey(survey)
    except Exception:
        if _final_attempt(job):
            email_out.mark_failed(Survey, survey.pk)
        raise
    return {"sent": True, "to": survey.recipient_email}
