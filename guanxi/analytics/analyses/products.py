"""Product analyses: ranking by volume and revenue with price, discount, profit and the change
on last year; revenue by region; the share of new products; dormant products."""

from __future__ import annotations

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from guanxi.analytics.analyses import (
    ROW_LIMIT, Analysis, AnalysisContext, AnalysisResult, PeriodForm, ResultColumn, month_label, months_ago, number,
    ratio, register,
)
from guanxi.analytics.charts import chart


def product_name(row: dict) -> str:
    if (get_language() or "").startswith("zh") and row.get("name_zh"):
        return row["name_zh"]
    return row.get("name") or row.get("sku") or "—"


@register
class ProductRanking(Analysis):
    key = "product-ranking"
    section = "products"
    title = gettext_lazy("Product ranking")
    question = gettext_lazy("Which products sell most, at what price and discount, with what profit, and how do "
                            "they compare with the same period last year?")
    requires = ("sales",)
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        months = params["months"]
        since, year_before = months_ago(context.today, months), months_ago(context.today, months + 12)
        last_year_end = months_ago(context.today, 12)
        scope_sql, scope_params = context.scope("f.customer_id", "f.account_id")
        rows = context.rows(f"""
            SELECT p.product_id, p.sku, p.name, p.name_zh, p.family, MAX(p.unit_cost) AS unit_cost,
                   SUM(f.quantity) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS units,
                   SUM(f.amount_base) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS revenue,
                   SUM(f.list_amount_base) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS list_amount,
                   SUM(f.discount_base) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS discount,
                   COUNT(DISTINCT f.order_id) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS orders,
                   COUNT(DISTINCT f.customer_id) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) AS customers,
                   SUM(f.amount_base) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?
                                                AND CAST(f.ordered_at AS DATE) <= ?) AS revenue_last_year
              FROM fact_order_line f JOIN dim_product p ON p.product_id = f.product_id
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{scope_sql}
             GROUP BY p.product_id, p.sku, p.name, p.name_zh, p.family
            HAVING COUNT(*) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) > 0
             ORDER BY SUM(f.amount_base) FILTER (WHERE CAST(f.ordered_at AS DATE) > ?) DESC NULLS LAST, p.sku
             LIMIT {ROW_LIMIT}""",
            [since] * 6 + [year_before, last_year_end, year_before, *scope_params, since, since])
        costs_known = any(row["unit_cost"] is not None for row in rows)
        table = []
        for rank, row in enumerate(rows, start=1):
            revenue = number(row["revenue"])
            profit = None
            if row["unit_cost"] is not None:
                profit = revenue - number(row["units"]) * number(row["unit_cost"])
            table.append({"rank": rank, "product": f"{row['sku']} {product_name(row)}", "family": row["family"] or "—",
                          "units": number(row["units"]), "revenue": revenue, "orders": row["orders"] or 0,
                          "customers": row["customers"] or 0,
                          "average_price": ratio(row["list_amount"], row["units"]),
                          "average_discount": ratio(row["discount"], row["list_amount"]), "profit": profit,
                          "change": (ratio(revenue - number(row["revenue_last_year"]), row["revenue_last_year"])
                                     if row["revenue_last_year"] else None)})
        notes = [] if costs_known else [_("Products carry no unit cost, so profit cannot be computed; the revenue "
                                          "shown is after discounts.")]
        top = table[:15]
        return AnalysisResult(
            columns=[ResultColumn("rank", "#", "integer"), ResultColumn("product", _("Product")),
                     ResultColumn("family", _("Family")), ResultColumn("units", _("Units"), "number"),
                     ResultColumn("revenue", _("Revenue"), "money"), ResultColumn("orders", _("Orders"), "integer"),
                     ResultColumn("customers", _("Customers"), "integer"),
                     ResultColumn("average_price", _("Average list price"), "money"),
                     ResultColumn("average_discount", _("Average discount"), "percent"),
                     ResultColumn("profit", _("Profit"), "money"),
                     ResultColumn("change", _("Against last year"), "percent")],
            rows=table, notes=notes, truncated=len(rows) >= ROW_LIMIT,
            chart=chart("analysis-chart", "bar", _("Revenue of the top products"), [row["product"] for row in top],
                        [(_("Revenue"), [row["revenue"] for row in top])]))


@register
class ProductRegions(Analysis):
    key = "product-regions"
    section = "products"
    title = gettext_lazy("Products by region")
    question = gettext_lazy("Where does each product family sell?")
    requires = ("sales",)
    form_class = PeriodForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        scope_sql, scope_params = context.scope("f.customer_id", "f.account_id")
        rows = context.rows(f"""
            SELECT COALESCE(c.province, c.region) AS region, COALESCE(p.family, p.sku) AS family,
                   SUM(f.amount_base) AS revenue, SUM(f.quantity) AS units
              FROM fact_order_line f
              JOIN dim_product p ON p.product_id = f.product_id
              LEFT JOIN dim_customer c ON c.customer_id = f.customer_id
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{scope_sql}
             GROUP BY COALESCE(c.province, c.region), COALESCE(p.family, p.sku)""", [since, *scope_params])
        family_totals: dict = {}
        region_totals: dict = {}
        for row in rows:
            family_totals[row["family"]] = family_totals.get(row["family"], 0.0) + number(row["revenue"])
            region_totals[row["region"]] = region_totals.get(row["region"], 0.0) + number(row["revenue"])
        families = sorted(family_totals, key=lambda family: -family_totals[family])[:8]
        regions = sorted(region_totals, key=lambda region: -region_totals[region])[:ROW_LIMIT]
        cells = {(row["region"], row["family"]): number(row["revenue"]) for row in rows}
        table = []
        for region in regions:
            entry = {"region": region or str(_("Not given")), "total": region_totals[region]}
            for position, family in enumerate(families):
                entry[f"family_{position}"] = cells.get((region, family), 0.0)
            table.append(entry)
        return AnalysisResult(
            columns=[ResultColumn("region", _("Region")), ResultColumn("total", _("Revenue"), "money"),
                     *[ResultColumn(f"family_{position}", str(family), "money")
                       for position, family in enumerate(families)]],
            rows=table,
            chart=chart("analysis-chart", "bar", _("Revenue by region"), [row["region"] for row in table[:15]],
                        [(_("Revenue"), [row["total"] for row in table[:15]])]))


class NewProductForm(PeriodForm):
    new_for_months = forms.IntegerField(label=gettext_lazy("A product is new for (months)"), min_value=1,
                                        max_value=60, initial=12, required=False)

    def clean_new_for_months(self):
        return self.cleaned_data.get("new_for_months") or 12


@register
class NewProductMix(Analysis):
    key = "new-product-mix"
    section = "products"
    title = gettext_lazy("New-product mix")
    question = gettext_lazy("What share of revenue comes from products launched recently?")
    requires = ("sales",)
    form_class = NewProductForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        since = months_ago(context.today, params["months"])
        new_days = int(params["new_for_months"]) * 30
        scope_sql, scope_params = context.scope("f.customer_id", "f.account_id")
        rows = context.rows(f"""
            SELECT date_trunc('month', f.ordered_at) AS month, SUM(f.amount_base) AS revenue,
                   SUM(CASE WHEN p.launched_at IS NOT NULL
                             AND CAST(f.ordered_at AS DATE) - CAST(p.launched_at AS DATE) <= {new_days}
                            THEN f.amount_base ELSE 0 END) AS new_revenue
              FROM fact_order_line f JOIN dim_product p ON p.product_id = f.product_id
             WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) > ?{scope_sql}
             GROUP BY date_trunc('month', f.ordered_at)
             ORDER BY date_trunc('month', f.ordered_at)""", [since, *scope_params])
        table = [{"month": month_label(row["month"]), "revenue": number(row["revenue"]),
                  "new_revenue": number(row["new_revenue"]), "share": ratio(row["new_revenue"], row["revenue"])}
                 for row in rows]
        total = sum(row["revenue"] for row in table)
        return AnalysisResult(
            columns=[ResultColumn("month", _("Month")), ResultColumn("revenue", _("Revenue"), "money"),
                     ResultColumn("new_revenue", _("From new products"), "money"),
                     ResultColumn("share", _("Share of new products"), "percent")],
            rows=table,
            kpis=[(_("Share of new products"),
                   f"{(ratio(sum(row['new_revenue'] for row in table), total) or 0):.0%}")],
            chart=chart("analysis-chart", "line", _("Share of revenue from new products"),
                        [row["month"] for row in table], [(_("Share of new products"),
                                                           [row["share"] or 0 for row in table])]))


class DormantForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Without a sale for (days)"), min_value=1, max_value=3650,
                              initial=90, required=False)

    def clean_days(self):
        return self.cleaned_data.get("days") or 90


@register
class DormantProducts(Analysis):
    key = "dormant-products"
    section = "products"
    title = gettext_lazy("Dormant products")
    question = gettext_lazy("Which active products have not sold for a while?")
    requires = ("sales",)
    form_class = DormantForm

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        import datetime

        cutoff = context.today - datetime.timedelta(days=params["days"])
        scope_sql, scope_params = context.scope("f.customer_id", "f.account_id")
        rows = context.rows(f"""
            SELECT p.sku, p.name, p.name_zh, p.family, CAST(p.launched_at AS DATE) AS launched_on,
                   sold.last_day, sold.units
              FROM dim_product p
              LEFT JOIN (SELECT f.product_id, MAX(CAST(f.ordered_at AS DATE)) AS last_day, SUM(f.quantity) AS units
                           FROM fact_order_line f WHERE f.status <> 'cancelled'{scope_sql}
                          GROUP BY f.product_id) sold ON sold.product_id = p.product_id
             WHERE p.is_active AND (sold.last_day IS NULL OR sold.last_day <= ?)
             ORDER BY sold.last_day NULLS FIRST, p.sku
             LIMIT {ROW_LIMIT}""", [*scope_params, cutoff])
        table = [{"product": f"{row['sku']} {product_name(row)}", "family": row["family"] or "—",
                  "launched_on": row["launched_on"], "last_day": row["last_day"],
                  "idle_days": (context.today - row["last_day"]).days if row["last_day"] else None,
                  "units": number(row["units"])} for row in rows]
        return AnalysisResult(
            columns=[ResultColumn("product", _("Product")), ResultColumn("family", _("Family")),
                     ResultColumn("launched_on", pgettext("product launch date", "Launched"), "date"),
                     ResultColumn("last_day", _("Last sold"), "date"),
                     ResultColumn("idle_days", _("Days without a sale"), "integer"),
                     ResultColumn("units", _("Units ever sold"), "number")],
            rows=table, kpis=[(_("Dormant products"), f"{len(table):,}")], truncated=len(rows) >= ROW_LIMIT,
            notes=[_("Sales count only customers you may see; a product never sold shows no date.")])
