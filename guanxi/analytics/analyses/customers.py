"""Customer analyses: new against existing customers, value by demographic and geographic
group, who buys X but not Y, who responds to discounts, channel preference, and whether a
strategy for a target segment reached its goal."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from guanxi.analytics import warehouse
from guanxi.analytics.analyses import (
    AGE_BAND_LABELS, INCOME_CHOICES, NOT_GIVEN, ROW_LIMIT, TIER_CHOICES, Analysis, AnalysisContext, AnalysisResult,
    PeriodForm, ResultColumn, choice_label, month_label, months_ago, number, ratio, register,
)
from guanxi.analytics.charts import chart
from guanxi.core.models import Channel, Education, Gender

REVENUE_BY_CUSTOMER = """
    SELECT customer_id, SUM(amount_base) AS revenue, COUNT(DISTINCT order_id) AS orders
      FROM fact_order_line
     WHERE status <> 'cancelled' AND CAST(ordered_at AS DATE) > ?
     GROUP BY customer_id"""


# ======================================================================================
# Are new customers worth more than existing ones?
# ======================================================================================
@register
class NewVersusExisting(Analysis):
    key = "new-vs-existing"
    section = "customers"
    title = gettext_lazy("New against existing customers")
    question = gettext_lazy("Are customers won in the period worth more than those we had before?")
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        scope_sql, scope_params = context.scope("c.customer_id")
        rows = context.rows(f"""
            SELECT cohort, COUNT(*) AS customers, COUNT(*) FILTER (WHERE revenue > 0) AS buyers,
                   COALESCE(SUM(revenue), 0) AS revenue, COALESCE(SUM(orders), 0) AS orders,
                   AVG(lifetime_value) AS lifetime_value
              FROM (SELECT CASE WHEN CAST(c.created_at AS DATE) > ? THEN 'new' ELSE 'existing' END AS cohort,
                           r.revenue AS revenue, r.orders AS orders, s.lifetime_value AS lifetime_value
                      FROM dim_customer c
                      LEFT JOIN ({REVENUE_BY_CUSTOMER}) r ON r.customer_id = c.customer_id
                      LEFT JOIN customer_score s ON s.customer_id = c.customer_id
                     WHERE TRUE{scope_sql}) cohorts
             GROUP BY cohort""", [since, since, *scope_params])
        labels = {"new": _("New (joined in the period)"), "existing": _("Existing (joined before)")}
        by_cohort = {row["cohort"]: row for row in rows}
        table = []
        for cohort in ("new", "existing"):
            row = by_cohort.get(cohort, {"customers": 0, "buyers": 0, "revenue": 0, "orders": 0,
                                         "lifetime_value": None})
            table.append({"cohort": labels[cohort], "customers": row["customers"], "buyers": row["buyers"],
                          "revenue": number(row["revenue"]),
                          "revenue_per_customer": ratio(row["revenue"], row["customers"]),
                          "order_value": ratio(row["revenue"], row["orders"]),
                          "lifetime_value": row["lifetime_value"]})
        new, existing = table
        comparison = ratio(new["revenue_per_customer"], existing["revenue_per_customer"])
        kpis = [(_("Revenue per new customer"), f"{number(new['revenue_per_customer']):,.2f}"),
                (_("Revenue per existing customer"), f"{number(existing['revenue_per_customer']):,.2f}")]
        if comparison is not None:
            kpis.append((_("New against existing"), f"{comparison:.2f}×"))
        return AnalysisResult(
            columns=[ResultColumn("cohort", _("Customers")), ResultColumn("customers", _("Count"), "integer"),
                     ResultColumn("buyers", _("Bought in the period"), "integer"),
                     ResultColumn("revenue", _("Revenue"), "money"),
                     ResultColumn("revenue_per_customer", _("Revenue per customer"), "money"),
                     ResultColumn("order_value", _("Average order value"), "money"),
                     ResultColumn("lifetime_value", _("Average lifetime value"), "money")],
            rows=table, kpis=kpis,
            chart=chart("analysis-chart", "bar", _("Revenue per customer"), [row["cohort"] for row in table],
                        [(_("Revenue per customer"), [row["revenue_per_customer"] or 0 for row in table]),
                         (_("Average lifetime value"), [row["lifetime_value"] or 0 for row in table])]))


# ======================================================================================
# Which groups are most valuable?
# ======================================================================================
class ValueBySegmentForm(PeriodForm):
    by = forms.ChoiceField(label=gettext_lazy("Group customers by"), initial="age", choices=[
        ("age", pgettext_lazy("customer age", "Age")), ("occupation", gettext_lazy("Occupation")),
        ("income", gettext_lazy("Income band")), ("region", gettext_lazy("Region (province)")),
        ("gender", gettext_lazy("Gender")), ("education", gettext_lazy("Education")),
        ("tier", gettext_lazy("Value tier"))])


def group_expression(context: AnalysisContext, by: str) -> str:
    return {"age": context.age_band_expression(), "occupation": "c.occupation", "income": "c.income_band",
            "region": "COALESCE(c.province, c.region)", "gender": "c.gender", "education": "c.education",
            "tier": "s.value_tier"}[by]


def group_label(by: str, value) -> str:
    if value is None:
        return str(NOT_GIVEN)
    if by == "age":
        return str(AGE_BAND_LABELS.get(value, value))
    choices = {"income": INCOME_CHOICES, "gender": Gender.choices, "education": Education.choices,
               "tier": TIER_CHOICES}.get(by)
    return choice_label(choices, value) if choices else str(value)


#: Groups with a natural order keep it; the others are ranked by value.
ORDERED_GROUPS = {"age": list(AGE_BAND_LABELS), "income": [value for value, _label in INCOME_CHOICES],
                  "tier": [value for value, _label in TIER_CHOICES]}


@dataclass(frozen=True)
class CustomerGrouping:
    """The grouping a by-group analysis was asked for: ``by`` (age, income, tier…), its SQL
    expression over ``dim_customer c`` and ``customer_score s``, the first day of the period
    and the actor's scope on ``c.customer_id``."""

    by: str
    expression: str
    since: datetime.date
    scope_sql: str
    scope_params: list

    @classmethod
    def from_params(cls, context: AnalysisContext, params: dict, *, default_by: str) -> "CustomerGrouping":
        by = params.get("by") or default_by
        scope_sql, scope_params = context.scope("c.customer_id")
        return cls(by=by, expression=group_expression(context, by), since=months_ago(context.today, params["months"]),
                   scope_sql=scope_sql, scope_params=list(scope_params))

    @property
    def has_natural_order(self) -> bool:
        return self.by in ORDERED_GROUPS

    def rank(self, value) -> int:
        """The group's place in its natural order; groups without one all share the last place."""
        order = ORDERED_GROUPS.get(self.by, [])
        return order.index(value) if value in order else len(order)

    def label(self, value) -> str:
        return group_label(self.by, value)


@register
class ValueBySegment(Analysis):
    key = "value-by-segment"
    section = "customers"
    title = gettext_lazy("Customer value by group")
    question = gettext_lazy("Which age, occupation, income or regional groups are most valuable?")
    form_class = ValueBySegmentForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        grouping = CustomerGrouping.from_params(context, params, default_by="age")
        rows = context.rows(f"""
            SELECT grp, COUNT(*) AS customers, COUNT(*) FILTER (WHERE revenue > 0) AS buyers,
                   SUM(revenue) AS revenue, AVG(lifetime_value) AS lifetime_value
              FROM (SELECT {grouping.expression} AS grp, COALESCE(r.revenue, 0) AS revenue,
                           s.lifetime_value AS lifetime_value
                      FROM dim_customer c
                      LEFT JOIN ({REVENUE_BY_CUSTOMER}) r ON r.customer_id = c.customer_id
                      LEFT JOIN customer_score s ON s.customer_id = c.customer_id
                     WHERE TRUE{grouping.scope_sql}) grouped
             GROUP BY grp
             ORDER BY SUM(revenue) DESC
             LIMIT {ROW_LIMIT}""", [grouping.since, *grouping.scope_params])
        total = sum(number(row["revenue"]) for row in rows)
        if grouping.has_natural_order:
            rows.sort(key=lambda row: grouping.rank(row["grp"]))
        else:
            rows.sort(key=lambda row: -(ratio(row["revenue"], row["customers"]) or 0))
        table = [{"group": grouping.label(row["grp"]), "customers": row["customers"], "buyers": row["buyers"],
                  "revenue": number(row["revenue"]), "share": ratio(row["revenue"], total),
                  "revenue_per_customer": ratio(row["revenue"], row["customers"]),
                  "lifetime_value": row["lifetime_value"]} for row in rows]
        best = max(table, key=lambda row: row["revenue_per_customer"] or 0, default=None)
        return AnalysisResult(
            columns=[ResultColumn("group", _("Group")), ResultColumn("customers", _("Customers"), "integer"),
                     ResultColumn("buyers", _("Bought in the period"), "integer"),
                     ResultColumn("revenue", _("Revenue"), "money"), ResultColumn("share", _("Share"), "percent"),
                     ResultColumn("revenue_per_customer", _("Revenue per customer"), "money"),
                     ResultColumn("lifetime_value", _("Average lifetime value"), "money")],
            rows=table,
            kpis=[(_("Most valuable group"), best["group"])] if best and best["revenue_per_customer"] else [],
            chart=chart("analysis-chart", "bar", _("Revenue per customer by group"), [row["group"] for row in table],
                        [(_("Revenue per customer"), [row["revenue_per_customer"] or 0 for row in table])]),
            truncated=len(rows) >= ROW_LIMIT)


# ======================================================================================
# Who buys X but not Y?
# ======================================================================================
class BuysButNotForm(PeriodForm):
    product_x = forms.CharField(label=gettext_lazy("Bought (SKU or product family)"), max_length=80)
    product_y = forms.CharField(label=gettext_lazy("But not (SKU or product family)"), max_length=80)

    def clean(self):
        cleaned = super().clean()
        for name in ("product_x", "product_y"):
            value = (cleaned.get(name) or "").strip()
            if not value:
                continue
            try:
                found = warehouse.query("SELECT COUNT(*) FROM dim_product WHERE sku = ? OR family = ?",
                                        [value, value])[1][0][0]
            except warehouse.WarehouseNotBuilt:
                found = 1  # the page says the warehouse is not built
            if not found:
                self.add_error(name, _("No product has the SKU or family “%(value)s”.") % {"value": value})
            cleaned[name] = value
        return cleaned


@register
class BuysButNot(Analysis):
    key = "buys-x-not-y"
    section = "customers"
    title = gettext_lazy("Buys X but not Y")
    question = gettext_lazy("Which customers bought one product (or family) but not another?")
    requires = ("sales",)
    form_class = BuysButNotForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        scope_sql, scope_params = context.scope("c.customer_id")
        x, y = params["product_x"], params["product_y"]
        sql = f"""
            SELECT c.customer_id AS customer_id, c.full_name AS full_name, c.value_tier_hint AS tier,
                   bought.spend AS spend, bought.last_day AS last_day
              FROM (SELECT d.*, s.value_tier AS value_tier_hint FROM dim_customer d
                      LEFT JOIN customer_score s ON s.customer_id = d.customer_id) c
              JOIN (SELECT f.customer_id, SUM(f.amount_base) AS spend, MAX(CAST(f.ordered_at AS DATE)) AS last_day
                      FROM fact_order_line f JOIN dim_product p ON p.product_id = f.product_id
                     WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ? AND (p.sku = ? OR p.family = ?)
                     GROUP BY f.customer_id) bought ON bought.customer_id = c.customer_id
             WHERE NOT EXISTS (
                     SELECT 1 FROM fact_order_line g JOIN dim_product q ON q.product_id = g.product_id
                      WHERE g.customer_id = c.customer_id AND g.status <> 'cancelled'
                        AND CAST(g.ordered_at AS DATE) > ? AND (q.sku = ? OR q.family = ?)){scope_sql}"""
        params_list = [since, x, x, since, y, y, *scope_params]
        count = context.rows(f"SELECT COUNT(*) AS customers FROM ({sql}) matches", params_list)[0]["customers"]
        rows = context.rows(f"{sql} ORDER BY bought.spend DESC, c.customer_id LIMIT {ROW_LIMIT}", params_list)
        table = [{"customer": {"id": row["customer_id"], "name": row["full_name"]},
                  "tier": choice_label(TIER_CHOICES, row["tier"]), "spend": number(row["spend"]),
                  "last_day": row["last_day"]} for row in rows]
        return AnalysisResult(
            columns=[ResultColumn("customer", _("Customer"), "contact"), ResultColumn("tier", _("Value tier")),
                     ResultColumn("spend", _("Spend on X"), "money"),
                     ResultColumn("last_day", _("Last bought X"), "date")],
            rows=table, kpis=[(_("Customers"), f"{count:,}")], truncated=count > len(table),
            notes=[_("Customers who bought %(x)s in the period and never bought %(y)s in it.") % {"x": x, "y": y}])


# ======================================================================================
# Who responds to discounts?
# ======================================================================================
class DiscountForm(PeriodForm):
    by = forms.ChoiceField(label=gettext_lazy("Group customers by"), initial="age", choices=[
        ("age", pgettext_lazy("customer age", "Age")), ("income", gettext_lazy("Income band")), ("tier", gettext_lazy("Value tier"))])


@register
class DiscountResponse(Analysis):
    key = "discount-response"
    section = "customers"
    title = gettext_lazy("Response to discounts")
    question = gettext_lazy("Which age groups buy at a discount and answer campaigns?")
    requires = ("sales",)
    form_class = DiscountForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        grouping = CustomerGrouping.from_params(context, params, default_by="age")
        rows = context.rows(f"""
            SELECT grp, COUNT(*) AS customers, COUNT(*) FILTER (WHERE revenue > 0) AS buyers,
                   COUNT(*) FILTER (WHERE discount_lines > 0) AS discount_buyers,
                   COALESCE(SUM(revenue), 0) AS revenue, COALESCE(SUM(discount_revenue), 0) AS discount_revenue,
                   COALESCE(SUM(discount_amount), 0) AS discount_amount, COALESCE(SUM(list_amount), 0) AS list_amount,
                   COUNT(*) FILTER (WHERE responses > 0) AS responders
              FROM (SELECT {grouping.expression} AS grp, o.revenue, o.discount_revenue, o.discount_lines,
                           o.discount_amount,
                           o.list_amount, r.responses
                      FROM dim_customer c
                      LEFT JOIN customer_score s ON s.customer_id = c.customer_id
                      LEFT JOIN (SELECT customer_id, SUM(amount_base) AS revenue,
                                        SUM(CASE WHEN discount_percent > 0 THEN amount_base ELSE 0 END)
                                            AS discount_revenue,
                                        SUM(CASE WHEN discount_percent > 0 THEN 1 ELSE 0 END) AS discount_lines,
                                        SUM(discount_base) AS discount_amount, SUM(list_amount_base) AS list_amount
                                   FROM fact_order_line
                                  WHERE status <> 'cancelled' AND CAST(ordered_at AS DATE) > ?
                                  GROUP BY customer_id) o ON o.customer_id = c.customer_id
                      LEFT JOIN (SELECT customer_id, COUNT(*) AS responses FROM fact_campaign_response
                                  WHERE kind IN ('clicked', 'replied', 'registered', 'attended', 'visited', 'called')
                                    AND CAST(occurred_at AS DATE) > ?
                                  GROUP BY customer_id) r ON r.customer_id = c.customer_id
                     WHERE TRUE{grouping.scope_sql}) per_customer
             GROUP BY grp""", [grouping.since, grouping.since, *grouping.scope_params])
        rows.sort(key=lambda row: grouping.rank(row["grp"]))
        table = [{"group": grouping.label(row["grp"]), "customers": row["customers"], "buyers": row["buyers"],
                  "discount_buyers": ratio(row["discount_buyers"], row["buyers"]),
                  "discount_revenue": ratio(row["discount_revenue"], row["revenue"]),
                  "average_discount": ratio(row["discount_amount"], row["list_amount"]),
                  "responders": ratio(row["responders"], row["customers"])} for row in rows]
        keenest = max(table, key=lambda row: row["discount_buyers"] or 0, default=None)
        return AnalysisResult(
            columns=[ResultColumn("group", _("Group")), ResultColumn("customers", _("Customers"), "integer"),
                     ResultColumn("buyers", _("Buyers"), "integer"),
                     ResultColumn("discount_buyers", _("Buyers who took a discount"), "percent"),
                     ResultColumn("discount_revenue", _("Revenue at a discount"), "percent"),
                     ResultColumn("average_discount", _("Average discount"), "percent"),
                     ResultColumn("responders", _("Answered a campaign"), "percent")],
            rows=table,
            kpis=[(_("Most discount-minded group"), keenest["group"])] if keenest and keenest["discount_buyers"]
            else [],
            chart=chart("analysis-chart", "bar", _("Share of buyers who took a discount"),
                        [row["group"] for row in table],
                        [(_("Buyers who took a discount"), [row["discount_buyers"] or 0 for row in table]),
                         (_("Answered a campaign"), [row["responders"] or 0 for row in table])]))


# ======================================================================================
# Which channels do customers use?
# ======================================================================================
class ChannelForm(PeriodForm):
    by = forms.ChoiceField(label=gettext_lazy("Group customers by"), initial="tier", choices=[
        ("tier", gettext_lazy("Value tier")), ("age", pgettext_lazy("customer age", "Age")),
        ("region", gettext_lazy("Region (province)")), ("income", gettext_lazy("Income band"))])


@register
class ChannelPreference(Analysis):
    key = "channel-preference"
    section = "customers"
    title = gettext_lazy("Channel preference")
    question = gettext_lazy("Through which channels does each group of customers reach us, and which do they say "
                            "they prefer?")
    form_class = ChannelForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        grouping = CustomerGrouping.from_params(context, params, default_by="tier")
        group, scope_sql, scope_params = grouping.expression, grouping.scope_sql, grouping.scope_params
        used = context.rows(f"""
            SELECT {group} AS grp, i.channel AS channel, COUNT(*) AS touches
              FROM fact_interaction i
              JOIN dim_customer c ON c.customer_id = i.customer_id
              LEFT JOIN customer_score s ON s.customer_id = c.customer_id
             WHERE CAST(i.occurred_at AS DATE) > ?{scope_sql}
             GROUP BY {group}, i.channel""", [grouping.since, *scope_params])
        stated = context.rows(f"""
            SELECT {group} AS grp, c.preferred_channel AS channel, COUNT(*) AS customers
              FROM dim_customer c LEFT JOIN customer_score s ON s.customer_id = c.customer_id
             WHERE c.preferred_channel IS NOT NULL{scope_sql}
             GROUP BY {group}, c.preferred_channel""", scope_params)
        channels = [code for code, _label in Channel.choices if any(row["channel"] == code for row in used)]
        groups: dict = {}
        for row in used:
            groups.setdefault(row["grp"], {})[row["channel"]] = row["touches"]
        favourite: dict = {}
        for row in stated:
            best = favourite.get(row["grp"])
            if best is None or row["customers"] > best[1]:
                favourite[row["grp"]] = (row["channel"], row["customers"])
        keys = sorted(set(groups) | set(favourite), key=lambda value: (grouping.rank(value), str(value)))
        table = []
        for key in keys:
            counts = groups.get(key, {})
            total = sum(counts.values())
            row = {"group": grouping.label(key), "touches": total,
                   "most_used": choice_label(Channel.choices, max(counts, key=counts.get)) if counts else "—",
                   "stated": choice_label(Channel.choices, favourite[key][0]) if key in favourite else "—"}
            for channel in channels:
                row[f"share_{channel}"] = ratio(counts.get(channel, 0), total)
            table.append(row)
        totals = {channel: sum(groups.get(key, {}).get(channel, 0) for key in keys) for channel in channels}
        labels = dict(Channel.choices)
        return AnalysisResult(
            columns=[ResultColumn("group", _("Group")), ResultColumn("touches", _("Interactions"), "integer"),
                     ResultColumn("most_used", _("Most used")), ResultColumn("stated", _("Most often preferred")),
                     *[ResultColumn(f"share_{channel}", str(labels[channel]), "percent") for channel in channels]],
            rows=table,
            chart=chart("analysis-chart", "doughnut", _("Interactions by channel"),
                        [str(labels[channel]) for channel in channels],
                        [(_("Interactions"), [totals[channel] for channel in channels])]))


# ======================================================================================
# Did the strategy for a target segment reach its goal?
# ======================================================================================
class StrategyForm(forms.Form):
    income_band = forms.ChoiceField(label=gettext_lazy("Income band"), required=False,
                                    choices=[("", gettext_lazy("Any"))] + list(INCOME_CHOICES))
    value_tier = forms.ChoiceField(label=gettext_lazy("Value tier"), required=False,
                                   choices=[("", gettext_lazy("Any"))] + list(TIER_CHOICES))
    age_band = forms.ChoiceField(label=pgettext_lazy("customer age", "Age"), required=False,
                                 choices=[("", gettext_lazy("Any"))] + list(AGE_BAND_LABELS.items()))
    region = forms.CharField(label=gettext_lazy("Region or province"), required=False, max_length=80)
    metric = forms.ChoiceField(label=gettext_lazy("Goal measured as"), initial="revenue", choices=[
        ("revenue", gettext_lazy("Revenue")), ("buyers", gettext_lazy("Customers who bought")),
        ("orders", gettext_lazy("Orders"))])
    goal = forms.DecimalField(label=gettext_lazy("Goal"), min_value=0, max_digits=16, decimal_places=2)
    start = forms.DateField(label=gettext_lazy("Strategy started on"))
    end = forms.DateField(label=gettext_lazy("Goal due on"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", _("The goal date must be on or after the start."))
        if cleaned.get("start") and cleaned.get("end") and (cleaned["end"] - cleaned["start"]).days > 3660:
            self.add_error("end", _("A strategy may run for ten years at most."))
        return cleaned


def month_starts(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return months


@register
class StrategyGoal(Analysis):
    key = "strategy-goal"
    section = "customers"
    title = gettext_lazy("Strategy against goal")
    question = gettext_lazy("Did the strategy for a target segment (e.g. high-income customers) reach its goal?")
    requires = ("sales",)
    form_class = StrategyForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        conditions, condition_params = [], []
        for field_name, column in (("income_band", "c.income_band"), ("value_tier", "s.value_tier")):
            if params.get(field_name):
                conditions.append(f"{column} = ?")
                condition_params.append(params[field_name])
        if params.get("age_band"):
            conditions.append(f"{context.age_band_expression()} = ?")
            condition_params.append(params["age_band"])
        if params.get("region"):
            conditions.append("(c.province = ? OR c.region = ? OR c.city = ?)")
            condition_params += [params["region"]] * 3
        segment_sql = "".join(f" AND {condition}" for condition in conditions)
        scope_sql, scope_params = context.scope("c.customer_id")
        metric = {"revenue": "SUM(f.amount_base)", "buyers": "COUNT(DISTINCT f.customer_id)",
                  "orders": "COUNT(DISTINCT f.order_id)"}[params["metric"]]

        def measure(start: datetime.date, end: datetime.date) -> list[dict]:
            return context.rows(f"""
                SELECT date_trunc('month', f.ordered_at) AS month, {metric} AS amount
                  FROM fact_order_line f
                  JOIN dim_customer c ON c.customer_id = f.customer_id
                  LEFT JOIN customer_score s ON s.customer_id = c.customer_id
                 WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) >= ?
                   AND CAST(f.ordered_at AS DATE) <= ?{segment_sql}{scope_sql}
                 GROUP BY date_trunc('month', f.ordered_at)""",
                [start, end, *condition_params, *scope_params])

        start, end, goal = params["start"], params["end"], number(params["goal"])
        actual = {month_label(row["month"]): number(row["amount"]) for row in measure(start, end)}
        months = month_starts(start, end)
        total_days = (end - start).days + 1
        table, cumulative = [], 0.0
        for month in months:
            label = month_label(month)
            cumulative += actual.get(label, 0.0)
            month_end = min((month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1), end)
            target = goal * ((month_end - start).days + 1) / total_days
            table.append({"month": label, "actual": actual.get(label, 0.0), "cumulative": cumulative,
                          "target": target, "progress": ratio(cumulative, target)})
        try:
            last_year = sum(number(row["amount"]) for row in measure(start.replace(year=start.year - 1),
                                                                       end.replace(year=end.year - 1)))
        except ValueError:  # 29 February
            last_year = 0.0
        reached = ratio(cumulative, goal)
        status = (_("Goal reached") if reached is not None and reached >= 1 else
                  _("Goal not reached yet") if end >= context.today else _("Goal missed"))
        money = params["metric"] == "revenue"
        shown = (lambda value: f"{value:,.2f}") if money else (lambda value: f"{value:,.0f}")  # noqa: E731
        return AnalysisResult(
            columns=[ResultColumn("month", _("Month")),
                     ResultColumn("actual", _("In the month"), "money" if money else "integer"),
                     ResultColumn("cumulative", _("So far"), "money" if money else "integer"),
                     ResultColumn("target", _("Goal so far"), "money" if money else "number"),
                     ResultColumn("progress", _("Of the goal so far"), "percent")],
            rows=table,
            kpis=[(_("Result"), status), (_("Achieved"), shown(cumulative)), (_("Goal"), shown(goal)),
                  (_("Of the goal"), f"{(reached or 0):.0%}"), (_("Same period last year"), shown(last_year))],
            chart=chart("analysis-chart", "line", _("Cumulative result against the goal"),
                        [row["month"] for row in table],
                        [(_("So far"), [row["cumulative"] for row in table]),
                         (_("Goal so far"), [row["target"] for row in table])]))
