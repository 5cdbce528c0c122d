"""Campaign behaviour feeds the sales lead score.

Connected to ``marketing_engagement`` when the sales domain is installed. Each open lead
of the person who engaged — matched by the contact it was converted into, or by email —
gets a ``LeadBehaviour`` through sales' own ``lead_behaviour_record`` service, which
re-scores the lead with the administrator's scoring rules. Marketing never writes sales
tables itself.
"""

from __future__ import annotations

import logging

from django.db.models import Q

logger = logging.getLogger(__name__)

BEHAVIOUR_FOR = {"opened": "email_open", "clicked": "email_click", "registered": "form_submit",
                 "attended": "event_attended"}


def leads_of(contact_id: int | None, email: str) -> list[int]:
    from guanxi.sales.models import Lead

    condition = Q(pk__in=[])
    if contact_id:
        condition |= Q(converted_contact_id=contact_id)
    if email:
        condition |= Q(email=email.lower())
    return list(Lead.objects.filter(condition, status__in=Lead.OPEN_STATUSES).values_list("pk", flat=True))


def record_engagement(sender=None, *, contact_id=None, email="", kind="", campaign_id=None, detail="",
                      occurred_at=None, **kwargs) -> int:
    """Record the engagement on every open lead of the person; returns how many leads."""
    from guanxi.sales.services import lead_behaviour_record

    behaviour = BEHAVIOUR_FOR.get(kind)
    if behaviour is None:
        return 0
    recorded = 0
    for lead_id in leads_of(contact_id, email):
        try:
            lead_behaviour_record(actor=None, lead_id=lead_id, kind=behaviour, occurred_at=occurred_at,
                                  detail=f"campaign {campaign_id}: {detail}"[:300] if campaign_id else detail)
            recorded += 1
        except Exception:  # scoring is a side effect: a failure must not undo the response itself
            logger.exception("lead %s: recording %s failed", lead_id, kind)
    return recorded
