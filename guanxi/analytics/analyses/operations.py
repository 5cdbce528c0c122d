"""Key-account, sales, service and contact-center analyses."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from guanxi.analytics.analyses import (
    Analysis, AnalysisContext, AnalysisResult, PeriodForm, ResultColumn, SubTable, month_label, months_ago, number,
    ratio, register,
)
from guanxi.analytics.charts import chart
from guanxi.core import selectors as core_selectors
from guanxi.core.models import Channel, User

KEY_ACCOUNT_LIMIT = 200


# ======================================================================================
# Key accounts
# ======================================================================================
@register
class KeyAccounts(Analysis):
    key = "key-accounts"
    section = "operations"
    title = gettext_lazy("Key accounts")
    question = gettext_lazy("How is each key account's buying changing, what does it need, and where are new "
                            "sales opportunities?")
    requires = ("sales",)

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        accounts = dict(core_selectors.visible_accounts(context.actor).filter(is_key_account=True)
                        .order_by("name", "id").values_list("pk", "name")[:KEY_ACCOUNT_LIMIT])
        if not accounts:
            return AnalysisResult(columns=[], rows=[], notes=[_("You have no key accounts to analyse.")])
        ids = list(accounts)
        year_start = context.today.replace(month=1, day=1)
        last_year_start = year_start.replace(year=year_start.year - 1)
        try:
            last_year_same_day = context.today.replace(year=context.today.year - 1)
        except ValueError:  # 29 February
            last_year_same_day = context.today.replace(year=context.today.year - 1, day=28)
        orders = {row["account_id"]: row for row in context.rows("""
            SELECT account_id,
                   SUM(amount_base) FILTER (WHERE CAST(ordered_at AS DATE) >= ?) AS this_year,
                   SUM(amount_base) FILTER (WHERE CAST(ordered_at AS DATE) >= ? AND CAST(ordered_at AS DATE) <= ?)
                       AS last_year, MAX(CAST(ordered_at AS DATE)) AS last_order,
                   COUNT(DISTINCT product_id) AS products
              FROM fact_order_line
             WHERE status <> 'cancelled' AND account_id IN (SELECT UNNEST(CAST(? AS BIGINT[])))
             GROUP BY account_id""", [year_start, last_year_start, last_year_same_day, ids])}
        deals = {row["account_id"]: row for row in context.rows("""
            SELECT account_id, COUNT(*) AS open_deals, SUM(amount_base) AS pipeline
              FROM fact_opportunity
             WHERE NOT is_closed AND account_id IN (SELECT UNNEST(CAST(? AS BIGINT[])))
             GROUP BY account_id""", [ids])}
        cases = {}
        for row in context.rows("""
            SELECT account_id, category, COUNT(*) AS cases FROM fact_case
             WHERE status NOT IN ('resolved', 'closed') AND account_id IN (SELECT UNNEST(CAST(? AS BIGINT[])))
             GROUP BY account_id, category""", [ids]):
            cases.setdefault(row["account_id"], []).append((row["cases"], row["category"]))
        from guanxi.analytics.analyses import choice_label

        category_choices = _case_categories()
        table = []
        for account_id, name in accounts.items():
            bought = orders.get(account_id, {})
            this_year, last_year = number(bought.get("this_year")), number(bought.get("last_year"))
            needs = sorted(cases.get(account_id, []), reverse=True)
            table.append({
                "account": {"id": account_id, "name": name, "kind": "account"}, "this_year": this_year,
                "last_year": last_year, "change": ratio(this_year - last_year, last_year) if last_year else None,
                "last_order": bought.get("last_order"), "products": bought.get("products") or 0,
                "open_cases": sum(count for count, _category in needs),
                "needs": ", ".join(choice_label(category_choices, category) for _count, category in needs[:3]) or "—",
                "open_deals": deals.get(account_id, {}).get("open_deals") or 0,
                "pipeline": number(deals.get(account_id, {}).get("pipeline"))})
        table.sort(key=lambda row: -row["this_year"])
        growing = sum(1 for row in table if (row["change"] or 0) > 0)
        return AnalysisResult(
            columns=[ResultColumn("account", _("Key account"), "account"),
                     ResultColumn("this_year", _("This year"), "money"),
                     ResultColumn("last_year", _("Same period last year"), "money"),
                     ResultColumn("change", _("Change"), "percent"), ResultColumn("last_order", _("Last order"), "date"),
                     ResultColumn("products", _("Products bought"), "integer"),
                     ResultColumn("open_cases", _("Open cases"), "integer"), ResultColumn("needs", _("Needs")),
                     ResultColumn("open_deals", _("Open opportunities"), "integer"),
                     ResultColumn("pipeline", _("Pipeline"), "money")],
            rows=table,
            kpis=[(_("Key accounts"), f"{len(table):,}"), (_("Buying more than last year"), f"{growing:,}"),
                  (_("Open pipeline"), f"{sum(row['pipeline'] for row in table):,.2f}")],
            chart=chart("analysis-chart", "bar", _("This year against the same period last year"),
                        [row["account"]["name"] for row in table[:15]],
                        [(_("This year"), [row["this_year"] for row in table[:15]]),
                         (_("Same period last year"), [row["last_year"] for row in table[:15]])]))


def _case_categories():
    from django.apps import apps

    if apps.is_installed("guanxi.service"):
        from guanxi.service.models import CaseCategory

        return CaseCategory.choices
    return []


def _user_names(user_ids) -> dict[int, str]:
    return {user.pk: str(user) for user in User.objects.filter(pk__in=[pk for pk in user_ids if pk])}


# ======================================================================================
# Sales
# ======================================================================================
@register
class SalesOverview(Analysis):
    key = "sales"
    section = "operations"
    title = gettext_lazy("Sales")
    question = gettext_lazy("How much did we sell month by month, who sold it, and how does the pipeline look?")
    requires = ("sales",)
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        order_scope, order_params = context.scope("f.customer_id", "f.account_id")
        deal_scope, deal_params = context.scope("o.customer_id", "o.account_id")
        months = context.rows(f"""
            SELECT date_trunc('month', f.ordered_at) AS month, SUM(f.amount_base) AS revenue,
                   COUNT(DISTINCT f.order_id) AS orders, COUNT(DISTINCT f.customer_id) AS customers
              FROM fact_order_line f
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{order_scope}
             GROUP BY date_trunc('month', f.ordered_at) ORDER BY date_trunc('month', f.ordered_at)""",
                              [since, *order_params])
        closed = {month_label(row["month"]): row for row in context.rows(f"""
            SELECT date_trunc('month', o.closed_at) AS month, COUNT(*) FILTER (WHERE o.is_won) AS won,
                   COUNT(*) AS closed
              FROM fact_opportunity o
             WHERE o.is_closed AND CAST(o.closed_at AS DATE) > ?{deal_scope}
             GROUP BY date_trunc('month', o.closed_at)""", [since, *deal_params])}
        table = [{"month": month_label(row["month"]), "revenue": number(row["revenue"]), "orders": row["orders"],
                  "customers": row["customers"], "won": closed.get(month_label(row["month"]), {}).get("won", 0),
                  "win_rate": ratio(closed.get(month_label(row["month"]), {}).get("won", 0),
                                    closed.get(month_label(row["month"]), {}).get("closed", 0))}
                 for row in months]
        reps = context.rows(f"""
            SELECT f.owner_id, SUM(f.amount_base) AS revenue, COUNT(DISTINCT f.order_id) AS orders
              FROM fact_order_line f
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{order_scope}
             GROUP BY f.owner_id ORDER BY SUM(f.amount_base) DESC LIMIT 50""", [since, *order_params])
        names = _user_names(row["owner_id"] for row in reps)
        pipeline = context.rows(f"""
            SELECT o.stage_name, COUNT(*) AS deals, SUM(o.amount_base) AS amount,
                   SUM(o.amount_base * o.probability / 100.0) AS weighted
              FROM fact_opportunity o WHERE NOT o.is_closed{deal_scope}
             GROUP BY o.stage_name ORDER BY SUM(o.amount_base) DESC""", deal_params)
        won = sum(row["won"] for row in table)
        decided = sum(closed.get(row["month"], {}).get("closed", 0) for row in table)
        return AnalysisResult(
            columns=[ResultColumn("month", _("Month")), ResultColumn("revenue", _("Revenue"), "money"),
                     ResultColumn("orders", _("Orders"), "integer"), ResultColumn("customers", _("Customers"), "integer"),
                     ResultColumn("won", _("Deals won"), "integer"), ResultColumn("win_rate", _("Win rate"), "percent")],
            rows=table,
            kpis=[(_("Revenue"), f"{sum(row['revenue'] for row in table):,.2f}"),
                  (_("Orders"), f"{sum(row['orders'] for row in table):,}"),
                  (_("Win rate"), f"{(ratio(won, decided) or 0):.0%}"),
                  (_("Open pipeline"), f"{sum(number(row['amount']) for row in pipeline):,.2f}")],
            chart=chart("analysis-chart", "line", _("Revenue by month"), [row["month"] for row in table],
                        [(_("Revenue"), [row["revenue"] for row in table])]),
            tables=[
                SubTable(_("By sales representative"),
                         [ResultColumn("rep", _("Owner")), ResultColumn("revenue", _("Revenue"), "money"),
                          ResultColumn("orders", _("Orders"), "integer")],
                         [{"rep": names.get(row["owner_id"], "—"), "revenue": number(row["revenue"]),
                           "orders": row["orders"]} for row in reps]),
                SubTable(_("Open pipeline by stage"),
                         [ResultColumn("stage", _("Stage")), ResultColumn("deals", _("Opportunities"), "integer"),
                          ResultColumn("amount", _("Amount"), "money"), ResultColumn("weighted", _("Weighted"), "money")],
                         [{"stage": row["stage_name"], "deals": row["deals"], "amount": number(row["amount"]),
                           "weighted": number(row["weighted"])} for row in pipeline]),
            ])


# ======================================================================================
# Service
# ======================================================================================
@register
class ServiceOverview(Analysis):
    key = "service"
    section = "operations"
    title = gettext_lazy("Service")
    question = gettext_lazy("How many cases came in, how fast were they solved, were service levels kept, and how "
                            "satisfied were customers?")
    requires = ("service",)
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        scope_sql, scope_params = context.scope("k.customer_id", "k.account_id")
        months = context.rows(f"""
            SELECT date_trunc('month', k.created_at) AS month, COUNT(*) AS cases,
                   COUNT(*) FILTER (WHERE k.resolved_at IS NOT NULL) AS resolved,
                   COUNT(*) FILTER (WHERE k.first_response_breached OR k.resolution_breached) AS breached,
                   AVG(EXTRACT(EPOCH FROM (k.resolved_at - k.created_at))) / 3600.0 AS resolution_hours,
                   AVG(CAST(k.csat_score AS DOUBLE PRECISION)) AS csat,
                   COUNT(*) FILTER (WHERE k.nps_score >= 9) AS promoters,
                   COUNT(*) FILTER (WHERE k.nps_score <= 6) AS detractors,
                   COUNT(k.nps_score) AS nps_answers
              FROM fact_case k WHERE CAST(k.created_at AS DATE) > ?{scope_sql}
             GROUP BY date_trunc('month', k.created_at) ORDER BY date_trunc('month', k.created_at)""",
                              [since, *scope_params])
        table = [{"month": month_label(row["month"]), "cases": row["cases"], "resolved": row["resolved"],
                  "breach_rate": ratio(row["breached"], row["cases"]),
                  "resolution_hours": None if row["resolution_hours"] is None else number(row["resolution_hours"]),
                  "csat": None if row["csat"] is None else number(row["csat"]),
                  "nps": (100 * (row["promoters"] - row["detractors"]) / row["nps_answers"]) if row["nps_answers"]
                  else None} for row in months]
        categories = context.rows(f"""
            SELECT k.category, COUNT(*) AS cases,
                   COUNT(*) FILTER (WHERE k.first_response_breached OR k.resolution_breached) AS breached,
                   AVG(CAST(k.csat_score AS DOUBLE PRECISION)) AS csat
              FROM fact_case k WHERE CAST(k.created_at AS DATE) > ?{scope_sql}
             GROUP BY k.category ORDER BY COUNT(*) DESC""", [since, *scope_params])
        channels = context.rows(f"""
            SELECT k.origin, COUNT(*) AS cases, AVG(CAST(k.csat_score AS DOUBLE PRECISION)) AS csat
              FROM fact_case k WHERE CAST(k.created_at AS DATE) > ?{scope_sql}
             GROUP BY k.origin ORDER BY COUNT(*) DESC""", [since, *scope_params])
        from guanxi.analytics.analyses import choice_label

        total = sum(row["cases"] for row in table)
        breached = sum((row["breach_rate"] or 0) * row["cases"] for row in table)
        return AnalysisResult(
            columns=[ResultColumn("month", _("Month")), ResultColumn("cases", _("Cases"), "integer"),
                     ResultColumn("resolved", _("Resolved"), "integer"),
                     ResultColumn("breach_rate", _("Service level breached"), "percent"),
                     ResultColumn("resolution_hours", _("Hours to resolve"), "number"),
                     ResultColumn("csat", _("Satisfaction (1–5)"), "number"), ResultColumn("nps", _("NPS"), "number")],
            rows=table,
            kpis=[(_("Cases"), f"{total:,}"), (_("Service level breached"), f"{(ratio(breached, total) or 0):.0%}")],
            chart=chart("analysis-chart", "bar", _("Cases by month"), [row["month"] for row in table],
                        [(_("Cases"), [row["cases"] for row in table]),
                         (_("Service level breached"), [row["breach_rate"] or 0 for row in table])],
                        second_axis=(_("Service level breached"),)),
            tables=[
                SubTable(_("By category"),
                         [ResultColumn("category", _("Category")), ResultColumn("cases", _("Cases"), "integer"),
                          ResultColumn("breach_rate", _("Service level breached"), "percent"),
                          ResultColumn("csat", _("Satisfaction (1–5)"), "number")],
                         [{"category": choice_label(_case_categories(), row["category"]), "cases": row["cases"],
                           "breach_rate": ratio(row["breached"], row["cases"]), "csat": row["csat"]}
                          for row in categories]),
                SubTable(_("By channel"),
                         [ResultColumn("channel", _("Channel")), ResultColumn("cases", _("Cases"), "integer"),
                          ResultColumn("csat", _("Satisfaction (1–5)"), "number")],
                         [{"channel": row["origin"], "cases": row["cases"], "csat": row["csat"]} for row in channels]),
            ])


# ======================================================================================
# Contact center
# ======================================================================================
CONTACT_CENTER_CHANNELS = ("phone", "ivr", "chat", "video", "sms", "email")


@register
class ContactCenterOverview(Analysis):
    key = "contact-center"
    section = "operations"
    title = gettext_lazy("Contact center")
    question = gettext_lazy("How many contacts did the center handle, by channel and hour, and how long did agents "
                            "spend on them?")
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        scope_sql, scope_params = context.scope("i.customer_id", "i.account_id")
        channels_sql = ", ".join(f"'{channel}'" for channel in CONTACT_CENTER_CHANNELS)
        base = f"FROM fact_interaction i WHERE i.channel IN ({channels_sql}) AND CAST(i.occurred_at AS DATE) > ?" \
               f"{scope_sql}"
        months = context.rows(f"""
            SELECT date_trunc('month', i.occurred_at) AS month, COUNT(*) AS contacts,
                   COUNT(*) FILTER (WHERE i.direction = 'in') AS inbound,
                   COUNT(*) FILTER (WHERE i.direction = 'out') AS outbound,
                   AVG(CASE WHEN i.duration_seconds > 0 THEN i.duration_seconds END) AS handle_seconds
              {base}
             GROUP BY date_trunc('month', i.occurred_at) ORDER BY date_trunc('month', i.occurred_at)""",
                              [since, *scope_params])
        agents = context.rows(f"""
            SELECT i.agent_id, COUNT(*) AS contacts,
                   AVG(CASE WHEN i.duration_seconds > 0 THEN i.duration_seconds END) AS handle_seconds
              {base} AND i.agent_id IS NOT NULL
             GROUP BY i.agent_id ORDER BY COUNT(*) DESC LIMIT 50""", [since, *scope_params])
        hours = context.rows(f"""
            SELECT CAST(EXTRACT(HOUR FROM i.occurred_at) AS INTEGER) AS hour, COUNT(*) AS contacts
              {base} GROUP BY CAST(EXTRACT(HOUR FROM i.occurred_at) AS INTEGER)
             ORDER BY CAST(EXTRACT(HOUR FROM i.occurred_at) AS INTEGER)""", [since, *scope_params])
        by_channel = context.rows(f"""
            SELECT i.channel, COUNT(*) AS contacts {base} GROUP BY i.channel ORDER BY COUNT(*) DESC""",
                                  [since, *scope_params])
        names = _user_names(row["agent_id"] for row in agents)
        labels = dict(Channel.choices)
        handled = pgettext("contacts handled by the contact center", "Contacts")  # calls, chats…, not people
        table = [{"month": month_label(row["month"]), "contacts": row["contacts"], "inbound": row["inbound"],
                  "outbound": row["outbound"], "handle_minutes": number(row["handle_seconds"]) / 60.0}
                 for row in months]
        busiest = max(hours, key=lambda row: row["contacts"], default=None)
        return AnalysisResult(
            columns=[ResultColumn("month", _("Month")), ResultColumn("contacts", handled, "integer"),
                     ResultColumn("inbound", _("Inbound"), "integer"), ResultColumn("outbound", _("Outbound"), "integer"),
                     ResultColumn("handle_minutes", _("Average handling (minutes)"), "number")],
            rows=table,
            kpis=[(handled, f"{sum(row['contacts'] for row in table):,}")]
            + ([(_("Busiest hour"), f"{busiest['hour']:02d}:00")] if busiest else []),
            chart=chart("analysis-chart", "bar", _("Contacts by hour of the day"),
                        [f"{row['hour']:02d}:00" for row in hours], [(handled, [row["contacts"] for row in hours])]),
            tables=[
                SubTable(_("By agent"),
                         [ResultColumn("agent", _("Agent")), ResultColumn("contacts", handled, "integer"),
                          ResultColumn("handle_minutes", _("Average handling (minutes)"), "number")],
                         [{"agent": names.get(row["agent_id"], "—"), "contacts": row["contacts"],
                           "handle_minutes": number(row["handle_seconds"]) / 60.0} for row in agents]),
                SubTable(_("By channel"),
                         [ResultColumn("channel", _("Channel")), ResultColumn("contacts", handled, "integer")],
                         [{"channel": str(labels.get(row["channel"], row["channel"])), "contacts": row["contacts"]}
                          for row in by_channel]),
            ])
