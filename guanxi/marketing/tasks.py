"""Background jobs of the marketing domain: thin wrappers around the services."""

from __future__ import annotations

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
