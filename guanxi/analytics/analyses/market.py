"""Market analysis: what each campaign cost and brought back — responses, leads,
opportunities, won revenue and return on investment."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.analytics.analyses import (
    ROW_LIMIT, Analysis, AnalysisContext, AnalysisResult, PeriodForm, ResultColumn, months_ago, number, ratio,
    register,
)
from guanxi.analytics.charts import chart
from guanxi.core.access import scope_for
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import Visibility

RESPONSE_KINDS = "('clicked', 'replied', 'registered', 'attended', 'visited', 'called')"


@register
class CampaignReturn(Analysis):
    key = "campaign-roi"
    section = "market"
    title = gettext_lazy("Campaign return on investment")
    question = gettext_lazy("What did each campaign cost, and what responses, leads and revenue did it bring?")
    requires = ("marketing",)
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        from guanxi.marketing.selectors import visible_campaigns

        try:
            campaign_ids = list(visible_campaigns(context.actor).values_list("pk", flat=True))
        except PermissionDenied:
            raise PermissionDenied(_("You may not see campaigns.")) from None
        since = months_ago(context.today, params["months"])
        response_scope, response_params = context.scope("r.customer_id")
        opportunity_scope, opportunity_params = context.scope("o.customer_id", "o.account_id")
        order_scope, order_params = context.scope("f.customer_id", "f.account_id")
        # Leads are counted for readers who see every lead; others see the columns empty.
        count_leads = scope_for(context.actor, "lead", "view") == Visibility.ALL
        rows = context.rows(f"""
            SELECT m.campaign_id, m.name, m.channel, m.status, m.actual_cost, m.budget, m.audience_count,
                   COALESCE(responses.responders, 0) AS responders, COALESCE(leads.leads, 0) AS leads,
                   COALESCE(deals.opportunities, 0) AS opportunities, COALESCE(deals.won, 0) AS won,
                   COALESCE(deals.won_revenue, 0) AS won_revenue, COALESCE(orders.order_revenue, 0) AS order_revenue
              FROM dim_campaign m
              LEFT JOIN (SELECT r.campaign_id, COUNT(DISTINCT r.customer_id) AS responders
                           FROM fact_campaign_response r WHERE r.kind IN {RESPONSE_KINDS}{response_scope}
                          GROUP BY r.campaign_id) responses ON responses.campaign_id = m.campaign_id
              LEFT JOIN (SELECT campaign_id, COUNT(*) AS leads FROM fact_lead GROUP BY campaign_id) leads
                     ON leads.campaign_id = m.campaign_id
              LEFT JOIN (SELECT o.campaign_id, COUNT(*) AS opportunities,
                                COUNT(*) FILTER (WHERE o.is_won) AS won,
                                SUM(CASE WHEN o.is_won THEN o.amount_base ELSE 0 END) AS won_revenue
                           FROM fact_opportunity o WHERE o.campaign_id IS NOT NULL{opportunity_scope}
                          GROUP BY o.campaign_id) deals ON deals.campaign_id = m.campaign_id
              LEFT JOIN (SELECT f.campaign_id, SUM(f.amount_base) AS order_revenue
                           FROM fact_order_line f WHERE f.status <> 'cancelled' AND f.campaign_id IS NOT NULL{order_scope}
                          GROUP BY f.campaign_id) orders ON orders.campaign_id = m.campaign_id
             WHERE m.campaign_id IN (SELECT UNNEST(CAST(? AS BIGINT[])))
               AND (CAST(COALESCE(m.launched_at, m.created_at) AS DATE) > ?)
             ORDER BY COALESCE(deals.won_revenue, 0) DESC, m.name
             LIMIT {ROW_LIMIT}""",
            [*response_params, *opportunity_params, *order_params, campaign_ids, since])
        table = []
        for row in rows:
            cost = number(row["actual_cost"])
            revenue = max(number(row["won_revenue"]), number(row["order_revenue"]))
            table.append({"campaign": row["name"], "channel": row["channel"], "cost": cost,
                          "audience": row["audience_count"] or 0, "responders": row["responders"],
                          "response_rate": ratio(row["responders"], row["audience_count"]),
                          "leads": row["leads"] if count_leads else None, "opportunities": row["opportunities"],
                          "won": row["won"], "revenue": revenue,
                          "roi": ratio(revenue - cost, cost) if cost else None,
                          "cost_per_response": ratio(cost, row["responders"])})
        total_cost = sum(row["cost"] for row in table)
        total_revenue = sum(row["revenue"] for row in table)
        return AnalysisResult(
            columns=[ResultColumn("campaign", _("Campaign")), ResultColumn("channel", _("Channel")),
                     ResultColumn("cost", _("Cost"), "money"), ResultColumn("audience", _("Audience"), "integer"),
                     ResultColumn("responders", _("Responded"), "integer"),
                     ResultColumn("response_rate", _("Response rate"), "percent"),
                     ResultColumn("leads", _("Leads"), "integer"),
                     ResultColumn("opportunities", _("Opportunities"), "integer"),
                     ResultColumn("won", _("Won"), "integer"), ResultColumn("revenue", _("Revenue"), "money"),
                     ResultColumn("roi", _("Return on investment"), "percent"),
                     ResultColumn("cost_per_response", _("Cost per response"), "money")],
            rows=table,
            kpis=[(_("Cost"), f"{total_cost:,.2f}"), (_("Revenue"), f"{total_revenue:,.2f}"),
                  (_("Return on investment"), f"{(ratio(total_revenue - total_cost, total_cost) or 0):.0%}")],
            notes=[_("Revenue is the larger of the won opportunities and the orders attributed to the campaign.")],
            chart=chart("analysis-chart", "bar", _("Cost and revenue by campaign"),
                        [row["campaign"] for row in table[:15]],
                        [(_("Cost"), [row["cost"] for row in table[:15]]),
                         (_("Revenue"), [row["revenue"] for row in table[:15]])]))
