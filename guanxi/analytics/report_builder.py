"""The report builder: a report definition (object, filters, grouping, measures) checked
against a whitelist and compiled to one warehouse query.

A definition is plain JSON, stored on ``Report.definition``::

    {"group_by": ["month", "product_family"],
     "measures": [{"aggregate": "sum", "field": "revenue"}, {"aggregate": "count", "field": "*"}],
     "filters": [{"field": "ordered_on", "operator": "between", "value": ["2025-01-01", "2025-06-30"]},
                 {"field": "income_band", "operator": "in", "value": ["high", "upper_middle"]}],
     "sort": "-m0", "limit": 100}

Only names from ``SOURCES`` reach the SQL; every value is a parameter. What is counted is
limited to the reader's visible customers and accounts (``AnalysisContext.scope``). A
report that would read more than ``scan_limit()`` rows is not run on the page: the reader
narrows the filters or runs it as a background job (``services.reports``).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from guanxi.analytics.analyses import (
    AGE_BAND_LABELS, AnalysisContext, ResultColumn, choice_label, month_label, number,
)
from guanxi.core.models import Channel, Education, Gender, IncomeBand, LifecycleStage, User, ValueTier

AGGREGATES = {"count": "COUNT", "count_distinct": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"}
AGGREGATE_LABELS = {"count": gettext_lazy("Count"), "count_distinct": gettext_lazy("Count of distinct"),
                    "sum": gettext_lazy("Sum"), "avg": gettext_lazy("Average"), "min": gettext_lazy("Minimum"),
                    "max": gettext_lazy("Maximum")}
OPERATORS = {
    "text": ("eq", "ne", "in", "contains"),
    "number": ("eq", "gte", "lte", "between"),
    "date": ("gte", "lte", "between"),
    "boolean": ("is",),
}
OPERATOR_LABELS = {"eq": gettext_lazy("is"), "ne": gettext_lazy("is not"), "in": gettext_lazy("is one of"),
                   "contains": gettext_lazy("contains"), "gte": gettext_lazy("at least"),
                   "lte": gettext_lazy("at most"), "between": gettext_lazy("between"), "is": gettext_lazy("is")}
MAX_GROUPS = 2
MAX_MEASURES = 4
MAX_FILTERS = 10
MAX_ROWS = 1000
DEFAULT_SCAN_LIMIT = 5_000_000


def scan_limit() -> int:
    return int(getattr(settings, "GUANXI_REPORT_SCAN_LIMIT", None)
               or os.environ.get("GUANXI_REPORT_SCAN_LIMIT", DEFAULT_SCAN_LIMIT))


# ======================================================================================
# What may be reported on
# ======================================================================================
@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    sql: object                # expression over the source's aliases, or a function giving it today
    labels: object = None      # choices (value → label) or a callable(value) → label

    @property
    def expression(self) -> str:
        return self.sql() if callable(self.sql) else self.sql


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    sql: str                   # the column aggregated; "*" for rows
    aggregates: tuple[str, ...]
    kind: str = "number"       # money, number, integer


@dataclass(frozen=True)
class FilterField:
    key: str
    label: str
    sql: object
    type: str                  # text, number, date, boolean
    choices: tuple = ()

    @property
    def expression(self) -> str:
        return self.sql() if callable(self.sql) else self.sql


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    from_sql: str
    customer_column: str
    account_column: str | None
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    filters: tuple[FilterField, ...]
    requires: tuple[str, ...] = ()

    def dimension(self, key: str) -> Dimension | None:
        return next((item for item in self.dimensions if item.key == key), None)

    def measure(self, key: str) -> Measure | None:
        return next((item for item in self.measures if item.key == key), None)

    def filter_field(self, key: str) -> FilterField | None:
        return next((item for item in self.filters if item.key == key), None)

    def available(self) -> bool:
        from django.apps import apps

        return all(apps.is_installed(f"guanxi.{label}") for label in self.requires)


def _age_band(column: str):
    """Age bands as of the day the report runs (not the day the server started)."""
    return lambda: _age_band_today(column)


def _age_band_today(column: str) -> str:
    from django.utils import timezone

    today = timezone.localdate()
    year, month_day = today.year, today.month * 100 + today.day
    age = (f"({year} - EXTRACT(YEAR FROM {column}) - CASE WHEN {month_day} < EXTRACT(MONTH FROM {column}) * 100 "
           f"+ EXTRACT(DAY FROM {column}) THEN 1 ELSE 0 END)")
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {age} < 25 THEN 'a<25' WHEN {age} < 35 THEN 'b25-34' "
            f"WHEN {age} < 45 THEN 'c35-44' WHEN {age} < 55 THEN 'd45-54' WHEN {age} < 65 THEN 'e55-64' "
            f"ELSE 'f65+' END")


def _customer_dimensions(customer: str = "c", score: str = "s") -> tuple[Dimension, ...]:
    return (
        Dimension("region", gettext_lazy("Region"), f"COALESCE({customer}.province, {customer}.region)"),
        Dimension("city", gettext_lazy("City"), f"{customer}.city"),
        Dimension("income_band", gettext_lazy("Income band"), f"{customer}.income_band", IncomeBand.choices),
        Dimension("occupation", gettext_lazy("Occupation"), f"{customer}.occupation"),
        Dimension("gender", gettext_lazy("Gender"), f"{customer}.gender", Gender.choices),
        Dimension("education", gettext_lazy("Education"), f"{customer}.education", Education.choices),
        Dimension("age_band", pgettext_lazy("customer age", "Age"), _age_band(f"{customer}.birth_date"), list(AGE_BAND_LABELS.items())),
        Dimension("value_tier", gettext_lazy("Value tier"), f"{score}.value_tier", ValueTier.choices),
        Dimension("lifecycle_stage", gettext_lazy("Lifecycle stage"), f"{customer}.lifecycle_stage",
                  LifecycleStage.choices),
    )


def _customer_filters(customer: str = "c", score: str = "s") -> tuple[FilterField, ...]:
    return (
        FilterField("region", gettext_lazy("Region or province"), f"COALESCE({customer}.province, {customer}.region)",
                    "text"),
        FilterField("income_band", gettext_lazy("Income band"), f"{customer}.income_band", "text",
                    tuple(IncomeBand.choices)),
        FilterField("occupation", gettext_lazy("Occupation"), f"{customer}.occupation", "text"),
        FilterField("gender", gettext_lazy("Gender"), f"{customer}.gender", "text", tuple(Gender.choices)),
        FilterField("age_band", pgettext_lazy("customer age", "Age"), _age_band(f"{customer}.birth_date"), "text",
                    tuple(AGE_BAND_LABELS.items())),
        FilterField("value_tier", gettext_lazy("Value tier"), f"{score}.value_tier", "text", tuple(ValueTier.choices)),
    )


def _time_dimensions(column: str) -> tuple[Dimension, ...]:
    return (
        Dimension("month", gettext_lazy("Month"), f"date_trunc('month', {column})", month_label),
        Dimension("quarter", gettext_lazy("Quarter"),
                  f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER) * 10 + CAST(EXTRACT(QUARTER FROM {column}) AS INTEGER)",
                  lambda value: f"{int(value) // 10} Q{int(value) % 10}"),
        Dimension("year", gettext_lazy("Year"), f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)", str),
    )


SOURCES: dict[str, Source] = {}


def _register(source: Source) -> None:
    SOURCES[source.key] = source


_register(Source(
    key="order_lines", label=gettext_lazy("Order lines"), requires=("sales",),
    from_sql="fact_order_line f LEFT JOIN dim_customer c ON c.customer_id = f.customer_id "
             "LEFT JOIN dim_product p ON p.product_id = f.product_id "
             "LEFT JOIN customer_score s ON s.customer_id = f.customer_id",
    customer_column="f.customer_id", account_column="f.account_id",
    dimensions=(*_time_dimensions("f.ordered_at"),
                Dimension("product", gettext_lazy("Product"), "p.sku"),
                Dimension("product_family", gettext_lazy("Product family"), "p.family"),
                Dimension("status", gettext_lazy("Order status"), "f.status"),
                Dimension("currency", gettext_lazy("Currency"), "f.currency"),
                Dimension("owner", gettext_lazy("Owner"), "f.owner_id", "user"),
                *_customer_dimensions()),
    measures=(Measure("rows", gettext_lazy("Order lines"), "*", ("count",), "integer"),
              Measure("order", gettext_lazy("Orders"), "f.order_id", ("count_distinct",), "integer"),
              Measure("customer", gettext_lazy("Customers"), "f.customer_id", ("count_distinct",), "integer"),
              Measure("revenue", gettext_lazy("Revenue"), "f.amount_base", ("sum", "avg", "min", "max"), "money"),
              Measure("quantity", gettext_lazy("Quantity"), "f.quantity", ("sum", "avg", "min", "max")),
              Measure("discount", gettext_lazy("Discount given"), "f.discount_base", ("sum", "avg"), "money"),
              Measure("discount_percent", gettext_lazy("Discount %"), "f.discount_percent", ("avg", "max"))),
    filters=(FilterField("ordered_on", gettext_lazy("Order date"), "CAST(f.ordered_at AS DATE)", "date"),
             FilterField("status", gettext_lazy("Order status"), "f.status", "text"),
             FilterField("product", gettext_lazy("Product (SKU)"), "p.sku", "text"),
             FilterField("product_family", gettext_lazy("Product family"), "p.family", "text"),
             FilterField("revenue", gettext_lazy("Line revenue"), "f.amount_base", "number"),
             FilterField("discount_percent", gettext_lazy("Discount %"), "f.discount_percent", "number"),
             *_customer_filters()),
))

_register(Source(
    key="customers", label=gettext_lazy("Customers"),
    from_sql="dim_customer c LEFT JOIN customer_score s ON s.customer_id = c.customer_id",
    customer_column="c.customer_id", account_column=None,
    dimensions=(*_time_dimensions("c.created_at"), *_customer_dimensions(),
                Dimension("preferred_channel", gettext_lazy("Preferred channel"), "c.preferred_channel",
                          Channel.choices),
                Dimension("owner", gettext_lazy("Owner"), "c.owner_id", "user")),
    measures=(Measure("rows", gettext_lazy("Customers"), "*", ("count",), "integer"),
              Measure("lifetime_value", gettext_lazy("Lifetime value"), "s.lifetime_value",
                      ("sum", "avg", "min", "max"), "money"),
              Measure("monetary", gettext_lazy("Spend"), "s.monetary", ("sum", "avg", "max"), "money"),
              Measure("churn_risk", gettext_lazy("Churn risk"), "s.churn_risk", ("avg", "max")),
              Measure("frequency", gettext_lazy("Purchases"), "s.frequency", ("sum", "avg", "max"))),
    filters=(FilterField("created_on", gettext_lazy("Customer since"), "CAST(c.created_at AS DATE)", "date"),
             FilterField("key_account", gettext_lazy("Key account"), "c.is_key_account", "boolean"),
             FilterField("churn_risk", gettext_lazy("Churn risk"), "s.churn_risk", "number"),
             FilterField("lifetime_value", gettext_lazy("Lifetime value"), "s.lifetime_value", "number"),
             *_customer_filters()),
))

_register(Source(
    key="interactions", label=gettext_lazy("Interactions"),
    from_sql="fact_interaction i LEFT JOIN dim_customer c ON c.customer_id = i.customer_id "
             "LEFT JOIN customer_score s ON s.customer_id = i.customer_id",
    customer_column="i.customer_id", account_column="i.account_id",
    dimensions=(*_time_dimensions("i.occurred_at"),
                Dimension("channel", gettext_lazy("Channel"), "i.channel", Channel.choices),
                Dimension("direction", gettext_lazy("Direction"), "i.direction",
                          [("in", gettext_lazy("Inbound")), ("out", gettext_lazy("Outbound"))]),
                Dimension("hour", gettext_lazy("Hour of the day"), "CAST(EXTRACT(HOUR FROM i.occurred_at) AS INTEGER)",
                          lambda value: f"{int(value):02d}:00"),
                Dimension("agent", gettext_lazy("Agent"), "i.agent_id", "user"),
                Dimension("reason", gettext_lazy("Reason"), "i.reason"),
                Dimension("outcome", gettext_lazy("Outcome"), "i.outcome"),
                *_customer_dimensions()),
    measures=(Measure("rows", gettext_lazy("Interactions"), "*", ("count",), "integer"),
              Measure("customer", gettext_lazy("Customers"), "i.customer_id", ("count_distinct",), "integer"),
              Measure("duration", gettext_lazy("Duration (s)"), "i.duration_seconds", ("sum", "avg", "max"))),
    filters=(FilterField("occurred_on", gettext_lazy("Date"), "CAST(i.occurred_at AS DATE)", "date"),
             FilterField("channel", gettext_lazy("Channel"), "i.channel", "text", tuple(Channel.choices)),
             FilterField("direction", gettext_lazy("Direction"), "i.direction", "text"),
             *_customer_filters()),
))

_register(Source(
    key="cases", label=gettext_lazy("Service cases"), requires=("service",),
    from_sql="fact_case k LEFT JOIN dim_customer c ON c.customer_id = k.customer_id "
             "LEFT JOIN customer_score s ON s.customer_id = k.customer_id",
    customer_column="k.customer_id", account_column="k.account_id",
    dimensions=(*_time_dimensions("k.created_at"),
                Dimension("category", gettext_lazy("Category"), "k.category"),
                Dimension("priority", gettext_lazy("Priority"), "k.priority"),
                Dimension("origin", gettext_lazy("Channel"), "k.origin"),
                Dimension("status", gettext_lazy("Status"), "k.status"),
                Dimension("assignee", gettext_lazy("Assignee"), "k.assignee_id", "user"),
                *_customer_dimensions()),
    measures=(Measure("rows", gettext_lazy("Cases"), "*", ("count",), "integer"),
              Measure("csat", gettext_lazy("Satisfaction (1–5)"), "k.csat_score", ("avg", "min", "max")),
              Measure("nps", gettext_lazy("Recommendation (0–10)"), "k.nps_score", ("avg",)),
              Measure("breached", gettext_lazy("Service level breached"),
                      "CASE WHEN k.first_response_breached OR k.resolution_breached THEN 1 ELSE 0 END",
                      ("sum", "avg")),
              Measure("resolution_hours", gettext_lazy("Hours to resolve"),
                      "EXTRACT(EPOCH FROM (k.resolved_at - k.created_at)) / 3600.0", ("avg", "max"))),
    filters=(FilterField("created_on", gettext_lazy("Opened on"), "CAST(k.created_at AS DATE)", "date"),
             FilterField("category", gettext_lazy("Category"), "k.category", "text"),
             FilterField("status", gettext_lazy("Status"), "k.status", "text"),
             FilterField("priority", gettext_lazy("Priority"), "k.priority", "text"),
             *_customer_filters()),
))

_register(Source(
    key="opportunities", label=gettext_lazy("Opportunities"), requires=("sales",),
    from_sql="fact_opportunity o LEFT JOIN dim_customer c ON c.customer_id = o.customer_id "
             "LEFT JOIN customer_score s ON s.customer_id = o.customer_id",
    customer_column="o.customer_id", account_column="o.account_id",
    dimensions=(*_time_dimensions("o.created_at"),
                Dimension("stage", gettext_lazy("Stage"), "o.stage_name"),
                Dimension("stage_kind", gettext_lazy("Open, won or lost"), "o.stage_kind"),
                Dimension("owner", gettext_lazy("Owner"), "o.owner_id", "user"),
                *_customer_dimensions()),
    measures=(Measure("rows", gettext_lazy("Opportunities"), "*", ("count",), "integer"),
              Measure("amount", gettext_lazy("Amount"), "o.amount_base", ("sum", "avg", "min", "max"), "money"),
              Measure("probability", gettext_lazy("Probability"), "o.probability", ("avg",))),
    filters=(FilterField("created_on", gettext_lazy("Created on"), "CAST(o.created_at AS DATE)", "date"),
             FilterField("close_date", gettext_lazy("Close date"), "o.close_date", "date"),
             FilterField("won", gettext_lazy("Won"), "o.is_won", "boolean"),
             FilterField("closed", gettext_lazy("Closed"), "o.is_closed", "boolean"),
             FilterField("amount", gettext_lazy("Amount"), "o.amount_base", "number"),
             *_customer_filters()),
))

_register(Source(
    key="campaign_responses", label=gettext_lazy("Campaign responses"), requires=("marketing",),
    from_sql="fact_campaign_response r LEFT JOIN dim_campaign m ON m.campaign_id = r.campaign_id "
             "LEFT JOIN dim_customer c ON c.customer_id = r.customer_id "
             "LEFT JOIN customer_score s ON s.customer_id = r.customer_id",
    customer_column="r.customer_id", account_column=None,
    dimensions=(*_time_dimensions("r.occurred_at"),
                Dimension("campaign", gettext_lazy("Campaign"), "m.name"),
                Dimension("kind", gettext_lazy("Response"), "r.kind"),
                *_customer_dimensions()),
    measures=(Measure("rows", gettext_lazy("Responses"), "*", ("count",), "integer"),
              Measure("customer", gettext_lazy("Customers"), "r.customer_id", ("count_distinct",), "integer")),
    filters=(FilterField("occurred_on", gettext_lazy("Date"), "CAST(r.occurred_at AS DATE)", "date"),
             FilterField("campaign", gettext_lazy("Campaign"), "m.name", "text"),
             FilterField("kind", gettext_lazy("Response"), "r.kind", "text"),
             *_customer_filters()),
))


def available_sources() -> list[Source]:
    return [source for source in SOURCES.values() if source.available()]


# ======================================================================================
# Checking a definition
# ======================================================================================
@dataclass
class CheckedDefinition:
    source: Source
    group_by: list[Dimension]
    measures: list[tuple[str, Measure]]        # (aggregate, measure)
    filters: list[tuple[FilterField, str, object]]
    sort: str
    limit: int
    raw: dict = field(default_factory=dict)


def _date(value, where: str, errors: dict) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(where, []).append(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value})
        return None


def _number(value, where: str, errors: dict) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        errors.setdefault(where, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return None


def _filter_value(filter_field: FilterField, operator: str, value, where: str, errors: dict):
    if operator == "between":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            errors.setdefault(where, []).append(_("Give two values: from and to."))
            return None
        convert = _date if filter_field.type == "date" else _number
        low, high = convert(value[0], where, errors), convert(value[1], where, errors)
        if low is not None and high is not None and low > high:
            errors.setdefault(where, []).append(_("The first value must not be after the second."))
        return [low, high]
    if operator == "in":
        values = value if isinstance(value, (list, tuple)) else [part.strip() for part in str(value).split(",")]
        values = [str(item) for item in values if str(item).strip()]
        if not values:
            errors.setdefault(where, []).append(_("Give at least one value."))
        return values
    if filter_field.type == "date":
        return _date(value, where, errors)
    if filter_field.type == "number":
        return _number(value, where, errors)
    if filter_field.type == "boolean":
        if value in (True, "true", "1", 1, "yes"):
            return True
        if value in (False, "false", "0", 0, "no"):
            return False
        errors.setdefault(where, []).append(_("Choose yes or no."))
        return None
    if value is None or str(value).strip() == "":
        errors.setdefault(where, []).append(_("Give a value."))
    return str(value or "").strip()


def check_definition(source_key: str, definition: dict) -> CheckedDefinition:
    """The definition if every name is known and every value valid; else ValidationError
    with errors keyed ``source``, ``group_by``, ``measures.N``, ``filters.N``, ``sort``, ``limit``."""
    errors: dict[str, list[str]] = {}
    source = SOURCES.get(source_key)
    if source is None or not source.available():
        raise ValidationError({"source": [_("Unknown object “%(source)s”.") % {"source": source_key}]})
    if not isinstance(definition, dict):
        raise ValidationError({"definition": [_("The definition must be an object.")]})
    group_by = []
    for key in definition.get("group_by") or []:
        dimension = source.dimension(str(key))
        if dimension is None:
            errors.setdefault("group_by", []).append(_("Cannot group by “%(key)s”.") % {"key": key})
        elif dimension not in group_by:
            group_by.append(dimension)
    if len(group_by) > MAX_GROUPS:
        errors.setdefault("group_by", []).append(_("Group by at most %(count)d fields.") % {"count": MAX_GROUPS})
    measures = []
    raw_measures = definition.get("measures") or [{"aggregate": "count", "field": "rows"}]
    for position, item in enumerate(raw_measures):
        item = item if isinstance(item, dict) else {}
        measure = source.measure(str(item.get("field", "")))
        aggregate = str(item.get("aggregate", ""))
        if measure is None:
            errors.setdefault(f"measures.{position}", []).append(
                _("Unknown measure “%(key)s”.") % {"key": item.get("field")})
        elif aggregate not in measure.aggregates:
            errors.setdefault(f"measures.{position}", []).append(
                _("“%(measure)s” can be aggregated by %(allowed)s only.") % {
                    "measure": measure.label, "allowed": ", ".join(str(AGGREGATE_LABELS[name])
                                                                   for name in measure.aggregates)})
        else:
            measures.append((aggregate, measure))
    if len(raw_measures) > MAX_MEASURES:
        errors.setdefault("measures", []).append(_("Choose at most %(count)d measures.") % {"count": MAX_MEASURES})
    filters = []
    raw_filters = definition.get("filters") or []
    if len(raw_filters) > MAX_FILTERS:
        errors.setdefault("filters", []).append(_("Use at most %(count)d filters.") % {"count": MAX_FILTERS})
    for position, item in enumerate(raw_filters[:MAX_FILTERS]):
        where = f"filters.{position}"
        item = item if isinstance(item, dict) else {}
        filter_field = source.filter_field(str(item.get("field", "")))
        operator = str(item.get("operator", ""))
        if filter_field is None:
            errors.setdefault(where, []).append(_("Cannot filter on “%(key)s”.") % {"key": item.get("field")})
            continue
        if operator not in OPERATORS[filter_field.type]:
            errors.setdefault(where, []).append(_("“%(operator)s” does not apply to %(field)s.") % {
                "operator": operator, "field": filter_field.label})
            continue
        filters.append((filter_field, operator, _filter_value(filter_field, operator, item.get("value"), where,
                                                              errors)))
    sort = str(definition.get("sort") or ("g0" if group_by else ""))
    allowed_sorts = {f"{sign}{prefix}{index}" for sign in ("", "-") for prefix, count in
                     (("g", len(group_by)), ("m", len(measures))) for index in range(count)}
    if sort and sort not in allowed_sorts:
        errors.setdefault("sort", []).append(_("Sort by a grouping (g0, g1) or a measure (m0…), - for descending."))
    try:
        limit = int(definition.get("limit") or MAX_ROWS)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_ROWS:
        errors.setdefault("limit", []).append(_("Show between 1 and %(count)d rows.") % {"count": MAX_ROWS})
    if errors:
        raise ValidationError(errors)
    return CheckedDefinition(source, group_by, measures, filters, sort, limit, definition)


# ======================================================================================
# Compiling and running
# ======================================================================================
def _where(checked: CheckedDefinition, context: AnalysisContext) -> tuple[str, list]:
    parts, params = [], []
    for filter_field, operator, value in checked.filters:
        column = filter_field.expression
        if operator == "eq" or operator == "is":
            parts.append(f"{column} = ?")
            params.append(value)
        elif operator == "ne":
            parts.append(f"({column} IS NULL OR {column} <> ?)")
            params.append(value)
        elif operator == "in":
            parts.append(f"{column} IN (SELECT UNNEST(CAST(? AS VARCHAR[])))")
            params.append(list(value))
        elif operator == "contains":
            parts.append(f"LOWER({column}) LIKE ?")
            params.append("%" + str(value).lower().replace("%", "").replace("_", "") + "%")
        elif operator == "gte":
            parts.append(f"{column} >= ?")
            params.append(value)
        elif operator == "lte":
            parts.append(f"{column} <= ?")
            params.append(value)
        elif operator == "between":
            parts.append(f"{column} BETWEEN ? AND ?")
            params += list(value)
    scope_sql, scope_params = context.scope(checked.source.customer_column, checked.source.account_column)
    return " AND ".join(["TRUE", *parts]) + scope_sql, params + scope_params


def count_sql(checked: CheckedDefinition, context: AnalysisContext) -> tuple[str, list]:
    where, params = _where(checked, context)
    return f"SELECT COUNT(*) AS scanned FROM {checked.source.from_sql} WHERE {where}", params


def report_sql(checked: CheckedDefinition, context: AnalysisContext) -> tuple[str, list]:
    where, params = _where(checked, context)
    selects, groups = [], []
    for index, dimension in enumerate(checked.group_by):
        selects.append(f"{dimension.expression} AS g{index}")
        groups.append(dimension.expression)
    for index, (aggregate, measure) in enumerate(checked.measures):
        if aggregate == "count" and measure.sql == "*":
            selects.append(f"COUNT(*) AS m{index}")
        elif aggregate == "count_distinct":
            selects.append(f"COUNT(DISTINCT {measure.sql}) AS m{index}")
        else:
            selects.append(f"{AGGREGATES[aggregate]}(CAST({measure.sql} AS DOUBLE PRECISION)) AS m{index}")
    sql = f"SELECT {', '.join(selects)} FROM {checked.source.from_sql} WHERE {where}"
    if groups:
        sql += f" GROUP BY {', '.join(groups)}"
    if checked.sort:
        descending = checked.sort.startswith("-")
        sql += f" ORDER BY {checked.sort.lstrip('-')} {'DESC' if descending else 'ASC'} NULLS LAST"
    sql += f" LIMIT {checked.limit + 1}"
    return sql, params


@dataclass
class ReportResult:
    columns: list[ResultColumn]
    rows: list[dict]
    truncated: bool
    scanned: int


def measure_label(aggregate: str, measure: Measure) -> str:
    if aggregate in ("count", "count_distinct"):
        return str(measure.label)
    return f"{AGGREGATE_LABELS[aggregate]}: {measure.label}"


def _labeller(dimension: Dimension, user_names: dict):
    if dimension.labels == "user":
        return lambda value: user_names.get(value, "—") if value is not None else "—"
    if callable(dimension.labels):
        return lambda value: dimension.labels(value) if value is not None else str(_("Not given"))
    if dimension.labels:
        return lambda value: choice_label(dimension.labels, value)
    return lambda value: str(value) if value is not None else str(_("Not given"))


def result_from_rows(checked: CheckedDefinition, rows: list[dict], scanned: int) -> ReportResult:
    user_ids = {row[f"g{index}"] for row in rows for index, dimension in enumerate(checked.group_by)
                if dimension.labels == "user"}
    user_names = {user.pk: str(user) for user in User.objects.filter(pk__in=[pk for pk in user_ids if pk])}
    columns = [ResultColumn(f"g{index}", str(dimension.label)) for index, dimension in enumerate(checked.group_by)]
    columns += [ResultColumn(f"m{index}", measure_label(aggregate, measure),
                             "integer" if aggregate in ("count", "count_distinct") else measure.kind)
                for index, (aggregate, measure) in enumerate(checked.measures)]
    labellers = [_labeller(dimension, user_names) for dimension in checked.group_by]
    table = []
    for row in rows[:checked.limit]:
        entry = {f"g{index}": labeller(row[f"g{index}"]) for index, labeller in enumerate(labellers)}
        for index, (aggregate, _measure) in enumerate(checked.measures):
            value = row[f"m{index}"]
            if value is None:
                entry[f"m{index}"] = None
            else:
                entry[f"m{index}"] = int(value) if aggregate in ("count", "count_distinct") else number(value)
        table.append(entry)
    return ReportResult(columns, table, len(rows) > checked.limit, scanned)


class ReportTooLarge(Exception):
    def __init__(self, scanned: int, limit: int):
        self.scanned = scanned
        self.limit = limit
        super().__init__(f"the report would read {scanned} rows; the limit on a page is {limit}")


def run_report(checked: CheckedDefinition, context: AnalysisContext, *, allow_large: bool = False) -> ReportResult:
    sql, params = count_sql(checked, context)
    scanned = int(context.rows(sql, params)[0]["scanned"])
    if scanned > scan_limit() and not allow_large:
        raise ReportTooLarge(scanned, scan_limit())
    sql, params = report_sql(checked, context)
    return result_from_rows(checked, context.rows(sql, params), scanned)


def chart_for(result: ReportResult, chart_type: str, title: str) -> dict | None:
    from guanxi.analytics.charts import chart

    if chart_type == "table" or not result.rows:
        return None
    label_keys = [column.key for column in result.columns if column.key.startswith("g")]
    measure_columns = [column for column in result.columns if column.key.startswith("m")]
    labels = [" · ".join(str(row[key]) for key in label_keys) or str(title) for row in result.rows[:50]]
    return chart("report-chart", chart_type, title, labels,
                 [(column.label, [row[column.key] or 0 for row in result.rows[:50]]) for column in measure_columns])
