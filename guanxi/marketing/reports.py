"""Campaign ROI: cost, reach, responses, leads, opportunities and won revenue per campaign,
each figure an SQL aggregate (correlated subqueries grouped by campaign) — one query for
the whole report, however many campaigns.

Leads and opportunities come from the sales domain, which keeps the source campaign on
each (``campaign_id``); won revenue is the sum of the won opportunities' amounts in the
base currency. Without sales installed those columns are zero.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DecimalField, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from guanxi.marketing.apps import sales_installed
from guanxi.marketing.models import Campaign, CampaignRecipient, CampaignResponse, RecipientState, ResponseKind

MONEY = DecimalField(max_digits=18, decimal_places=2)
RESPONSE_KINDS = (ResponseKind.OPENED, ResponseKind.CLICKED, ResponseKind.REPLIED, ResponseKind.REGISTERED,
                  ResponseKind.ATTENDED, ResponseKind.VISITED, ResponseKind.CALLED)


def _count(queryset, column: str = "campaign_id", distinct: str = "id"):
    grouped = (queryset.filter(**{column: OuterRef("pk")}).order_by().values(column)
               .annotate(total=Count(distinct, distinct=distinct != "id")).values("total")[:1])
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def with_roi(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """``campaigns`` annotated with every ROI figure, still one query."""
    responses = CampaignResponse.objects.filter(kind__in=RESPONSE_KINDS)
    annotated = campaigns.annotate(
        reached=_count(CampaignRecipient.objects.filter(state__in=[RecipientState.SENT, RecipientState.BOUNCED])),
        responders=_count(responses, distinct="contact"),
        opened=_count(CampaignResponse.objects.filter(kind=ResponseKind.OPENED), distinct="contact"),
        clicked=_count(CampaignResponse.objects.filter(kind=ResponseKind.CLICKED), distinct="contact"),
        registered=_count(CampaignResponse.objects.filter(kind=ResponseKind.REGISTERED)),
        unsubscribed=_count(CampaignResponse.objects.filter(kind=ResponseKind.UNSUBSCRIBED)),
    )
    if not sales_installed():
        zero_money = Value(Decimal("0"), output_field=MONEY)
        return annotated.annotate(leads=Value(0), opportunities=Value(0), won=Value(0), won_revenue=zero_money)
    from guanxi.sales.models import Lead, Opportunity

    won_revenue = (Opportunity.objects.filter(campaign_id=OuterRef("pk"), is_won=True).order_by()
                   .values("campaign_id").annotate(total=Sum("amount_base")).values("total")[:1])
    return annotated.annotate(
        leads=_count(Lead.objects.all()),
        opportunities=_count(Opportunity.objects.all()),
        won=_count(Opportunity.objects.filter(is_won=True)),
        won_revenue=Coalesce(Subquery(won_revenue, output_field=MONEY), Value(Decimal("0"), output_field=MONEY)),
    )


def roi_figures(campaign: Campaign) -> dict:
    """One campaign's figures, with the derived rates: response rate, cost per response and
    per lead, ROI = (won revenue − cost) / cost."""
    row = with_roi(Campaign.objects.filter(pk=campaign.pk)).values(
        "reached", "responders", "opened", "clicked", "registered", "unsubscribed", "leads", "opportunities", "won",
        "won_revenue").get()
    return derive(row, campaign)


def derive(row: dict, campaign: Campaign) -> dict:
    cost = campaign.actual_cost if campaign.actual_cost else campaign.planned_cost
    revenue = Decimal(row["won_revenue"] or 0).quantize(Decimal("0.01"))
    figures = {**row, "cost": cost, "cost_is_planned": not campaign.actual_cost, "budget": campaign.budget,
               "currency": campaign.currency, "won_revenue": revenue}
    figures["response_rate"] = round(row["responders"] / row["reached"], 4) if row["reached"] else None
    figures["cost_per_response"] = (cost / row["responders"]).quantize(Decimal("0.01")) \
        if row["responders"] and cost else None
    figures["cost_per_lead"] = (cost / row["leads"]).quantize(Decimal("0.01")) if row["leads"] and cost else None
    figures["roi"] = round(float((revenue - cost) / cost), 4) if cost else None
    figures["budget_left"] = campaign.budget - campaign.actual_cost
    return figures


def roi_report(campaigns: QuerySet[Campaign], limit: int | None = None) -> list[dict]:
    rows = with_roi(campaigns.order_by("-created_at", "-id"))
    if limit is not None:
        rows = rows[:limit]
    return [{"campaign": campaign, **derive({key: getattr(campaign, key) for key in (
        "reached", "responders", "opened", "clicked", "registered", "unsubscribed", "leads", "opportunities", "won",
        "won_revenue")}, campaign)} for campaign in rows]
