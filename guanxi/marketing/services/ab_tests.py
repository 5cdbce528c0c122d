"""A/B tests of subject or content: a sample of the audience gets variant A or B, and
when the test has run its time the better variant (by open or click rate, computed in
SQL) goes to everyone held back."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record
from guanxi.core.errors import Conflict
from guanxi.core.models import AuditAction, User
from guanxi.marketing import selectors, sending
from guanxi.marketing.models import (
    AbMetric, AbTest, AbTestState, Campaign, CampaignChannel, CampaignRecipient, CampaignStatus, RecipientState,
    TemplateChannel,
)
from guanxi.marketing.services.common import full_clean_errors, raise_if

DECIDE_JOB = "marketing.decide_ab_test"


@transaction.atomic
def ab_test_set(*, actor: User, campaign_id: int, data: dict) -> AbTest:
    """Set up (or change) the A/B test of a draft email campaign."""
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(_("The A/B test is set before the launch."))
    errors: dict[str, list[str]] = {}
    if campaign.channel != CampaignChannel.EMAIL:
        errors["campaign"] = [_("A/B tests are for email campaigns.")]
    test = AbTest.objects.filter(campaign=campaign).first() or AbTest(campaign=campaign)
    for field in ("metric", "sample_percent", "subject_b", "decide_after_hours"):
        if field in data and data[field] is not None:
            setattr(test, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "template_b_id" in data:
        test.template_b = None
        if data["template_b_id"]:
            template = selectors.visible_templates(actor).filter(pk=data["template_b_id"]).first()
            if template is None or template.channel != TemplateChannel.EMAIL:
                errors["template_b_id"] = [_("Choose an email template you may use.")]
            else:
                test.template_b = template
    if not test.subject_b and not test.template_b_id:
        errors.setdefault("subject_b", []).append(_("Variant B needs another subject or another template."))
    full_clean_errors(test, ["campaign", "template_b"], errors)
    raise_if(errors)
    test.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=campaign, changes={"ab_test": [None, {
        "metric": test.metric, "sample_percent": test.sample_percent, "subject_b": test.subject_b,
        "template_b_id": test.template_b_id}]})
    return test


@transaction.atomic
def ab_test_remove(*, actor: User, campaign_id: int) -> None:
    campaign = selectors.access_campaign_by_id(actor, campaign_id, "change")
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(_("The A/B test is set before the launch."))
    AbTest.objects.filter(campaign=campaign).delete()


def ab_test_assign(campaign: Campaign) -> None:
    """At launch: every n-th recipient (spread over the list) goes into the sample, split
    A/B alternately; the rest are held for the winner. Two UPDATEs."""
    test = AbTest.objects.filter(campaign=campaign).first()
    if test is None:
        return
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    ids = list(recipients.order_by("id").values_list("id", flat=True))
    sample_size = max(2, round(len(ids) * test.sample_percent / 100)) if ids else 0
    step = len(ids) / sample_size if sample_size else 0
    sample = [ids[int(index * step)] for index in range(sample_size)]
    variant_a, variant_b = sample[0::2], sample[1::2]
    recipients.filter(pk__in=variant_a).update(variant="A")
    recipients.filter(pk__in=variant_b).update(variant="B")
    recipients.exclude(pk__in=sample).update(state=RecipientState.HELD)
    decide_at = (campaign.scheduled_at or timezone.now()) + datetime.timedelta(hours=test.decide_after_hours)
    from guanxi.jobs.services import job_enqueue

    # The job row commits with the launch; the queue sees it only after the commit.
    job_enqueue(actor=None, kind=DECIDE_JOB, params={"campaign_id": campaign.pk}, run_at=decide_at,
                title=_("Choose the A/B winner of “%(name)s”") % {"name": campaign.name},
                idempotency_key=f"{DECIDE_JOB}:{campaign.pk}")


def ab_test_results(test: AbTest) -> dict:
    """Sent, opened and clicked per variant, and the rates, in one aggregate query."""
    rows = (CampaignRecipient.objects.filter(campaign_id=test.campaign_id, variant__in=["A", "B"])
            .values("variant").annotate(
                sent=Count("id", filter=Q(state__in=[RecipientState.SENT, RecipientState.BOUNCED])),
                opened=Count("id", filter=Q(opened_at__isnull=False)),
                clicked=Count("id", filter=Q(clicked_at__isnull=False))))
    results = {"A": {"sent": 0, "opened": 0, "clicked": 0}, "B": {"sent": 0, "opened": 0, "clicked": 0}}
    for row in rows:
        results[row["variant"]] = {"sent": row["sent"], "opened": row["opened"], "clicked": row["clicked"]}
    for counts in results.values():
        counts["open_rate"] = round(counts["opened"] / counts["sent"], 4) if counts["sent"] else 0.0
        counts["click_rate"] = round(counts["clicked"] / counts["sent"], 4) if counts["sent"] else 0.0
    return results


def ab_test_decide(*, campaign_id: int, actor: User | None = None) -> AbTest:
    """Pick the winner (ties go to A), release the held recipients with it and send."""
    with transaction.atomic():
        if actor is not None:
            selectors.access_campaign_by_id(actor, campaign_id, "change")
        test = AbTest.objects.select_for_update(of=("self",)).select_related("campaign").filter(campaign_id=campaign_id).first()
        if test is None:
            raise Conflict(_("This campaign has no A/B test."))
        if test.state == AbTestState.DECIDED:
            return test
        if test.campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
            raise Conflict(_("The campaign is not sending."))
        results = ab_test_results(test)
        rate = "open_rate" if test.metric == AbMetric.OPEN_RATE else "click_rate"
        test.winner = "B" if results["B"][rate] > results["A"][rate] else "A"
        test.results, test.state, test.decided_at = results, AbTestState.DECIDED, timezone.now()
        test.save()
        CampaignRecipient.objects.filter(campaign_id=campaign_id, state=RecipientState.HELD).update(
            state=RecipientState.PENDING, variant=test.winner)
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=test.campaign,
                     changes={"ab_winner": [None, test.winner], "ab_results": [None, results]})
    sending.enqueue_send(test.campaign)
    return test
