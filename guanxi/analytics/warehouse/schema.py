"""The star schema of the warehouse and how each table is read from the operational data.

Dimensions: ``dim_customer`` (contacts with their account, demographics and region),
``dim_product``, ``dim_date``, ``dim_channel``, ``dim_region`` (territories) and
``dim_campaign``. Facts: ``fact_order_line``, ``fact_interaction``, ``fact_case``,
``fact_complaint``, ``fact_campaign_response``, ``fact_opportunity`` and ``fact_lead``;
``customer_score`` carries the RFM, value tier, lifetime value and churn risk computed by
this app. Every fact names its customer by ``customer_id`` (the contact) so that one join
to ``dim_customer`` and one visibility filter serve every report.

Each table is described once, as SQL over the operational tables in the subset SQLite and
PostgreSQL share, and the loader (``loader.py``) runs it incrementally:

- ``rows`` selects the warehouse columns in order; ``{filter}`` is replaced by a condition
  on ``unit_expression`` (all rows, the changed units, or a list of units).
- A *unit* is what changes together: a contact, an order (all its lines), a case (with its
  survey). ``changed_units`` lists the units changed since a watermark; they are deleted
  from the warehouse and read again. ``all_units`` lists every unit that exists, which
  finds deletions (and any unit a late-committing transaction slipped past the watermark).
- ``watermark`` is the highest change stamp (``updated_at`` or, for append-only logs, the
  id) at the start of a load; the next load reads what changed from there on.
- Small tables (products, territories, campaigns, channels, dates) have no watermark: they
  are read whole every time, which costs less than tracking them.

Operational times are stored in UTC; the warehouse keeps local wall-clock times in
``settings.TIME_ZONE`` so that a day, a month or a year in a report is the calendar's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field


from django.apps import apps
from django.db import connection

#: Raised whenever a table's columns change: a warehouse of another version is rebuilt.
SCHEMA_VERSION = 2

#: Apps whose tables the warehouse reads, when they are installed.
SOURCE_APPS = {"sales": "guanxi.sales", "service": "guanxi.service", "marketing": "guanxi.marketing"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # BIGINT, INTEGER, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP or DATE


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    rows: str = ""                     # SELECT … WHERE {filter}
    unit_column: str = ""              # warehouse column naming the unit of change
    unit_expression: str = ""          # the same unit in ``rows``' operational SQL
    all_units: str = ""                # SELECT <unit> AS unit FROM …
    changed_units: str = ""            # SELECT <unit> FROM … WHERE stamp > %s (or id > %s)
    watermark: str = ""                # SELECT MAX(stamp) …
    watermark_kind: str = ""           # "time", "id" or "" (read whole every time)
    row_count: str = ""                # SELECT COUNT(*) … of the rows, for progress bars
    requires: tuple[str, ...] = ()     # Django app labels whose tables are read
    python_rows: Callable[[], list[tuple]] | None = field(default=None, compare=False)

    @property
    def incremental(self) -> bool:
        return bool(self.watermark_kind)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def changed_parameters(self, since) -> list:
        return [since] * self.changed_units.count("%s")


def columns(spec: str) -> tuple[Column, ...]:
    """``"customer_id BIGINT, name VARCHAR"`` → columns."""
    parsed = []
    for item in spec.split(","):
        name, type_name = item.split()
        parsed.append(Column(name, type_name))
    return tuple(parsed)


# ======================================================================================
# Dimensions
# ======================================================================================
DIM_CUSTOMER = Table(
    name="dim_customer",
    columns=columns(
        "customer_id BIGINT, account_id BIGINT, account_name VARCHAR, account_kind VARCHAR, "
        "is_key_account BOOLEAN, account_industry VARCHAR, full_name VARCHAR, gender VARCHAR, birth_date DATE, "
        "income_band VARCHAR, occupation VARCHAR, education VARCHAR, marital_status VARCHAR, household_size INTEGER, "
        "lifecycle_stage VARCHAR, relationship_stage VARCHAR, industry VARCHAR, preferred_channel VARCHAR, "
        "owner_id BIGINT, team_id BIGINT, territory_id BIGINT, region VARCHAR, province VARCHAR, city VARCHAR, "
        "do_not_contact BOOLEAN, is_erased BOOLEAN, created_at TIMESTAMP, updated_at TIMESTAMP"),
    rows="""
        SELECT c.id, c.account_id, a.name, a.kind, a.is_key_account, a.industry, c.full_name, c.gender,
               c.birth_date, c.income_band, c.occupation, c.education, c.marital_status, c.household_size,
               c.lifecycle_stage, c.relationship_stage, c.industry, c.preferred_channel, c.owner_id, c.team_id,
               c.territory_id, COALESCE(NULLIF(t.region, ''), t.name),
               (SELECT ad.province FROM {core_address} ad WHERE ad.contact_id = c.id
                 ORDER BY ad.is_primary DESC, ad.id LIMIT 1),
               (SELECT ad.city FROM {core_address} ad WHERE ad.contact_id = c.id
                 ORDER BY ad.is_primary DESC, ad.id LIMIT 1),
               c.do_not_contact, c.is_erased, TIME_TEXT(c.created_at), TIME_TEXT(c.updated_at)
          FROM {core_contact} c
          LEFT JOIN {core_account} a ON a.id = c.account_id
          LEFT JOIN {core_territory} t ON t.id = c.territory_id
         WHERE {filter}""",
    unit_column="customer_id", unit_expression="c.id",
    all_units="SELECT id AS unit FROM {core_contact}",
    row_count="SELECT COUNT(*) FROM {core_contact}",
    # An account's new name or key-account flag reaches its contacts' rows too.
    changed_units="""
        SELECT id FROM {core_contact} WHERE updated_at > %s
        UNION SELECT c.id FROM {core_contact} c JOIN {core_account} a ON a.id = c.account_id
         WHERE a.updated_at > %s""",
    watermark="""
        SELECT MAX(stamp) FROM (SELECT MAX(updated_at) AS stamp FROM {core_contact}
                                UNION ALL SELECT MAX(updated_at) FROM {core_account}) stamps""",
    watermark_kind="time",
)

DIM_REGION = Table(
    name="dim_region",
    columns=columns("territory_id BIGINT, code VARCHAR, name VARCHAR, region VARCHAR, parent_id BIGINT"),
    rows="SELECT t.id, t.code, t.name, COALESCE(NULLIF(t.region, ''), t.name), t.parent_id "
         "FROM {core_territory} t WHERE {filter}",
    unit_column="territory_id", unit_expression="t.id",
)


def _product_cost_expression() -> str:
    """Profit needs a unit cost; products carry one only if the sales domain records it."""
    from guanxi.sales.models import Product

    names = {field.name for field in Product._meta.get_fields()}
    for name in ("unit_cost", "cost_price", "cost"):
        if name in names:
            return f"p.{Product._meta.get_field(name).column}"
    return "NULL"


DIM_PRODUCT = Table(
    name="dim_product",
    columns=columns("product_id BIGINT, sku VARCHAR, name VARCHAR, name_zh VARCHAR, family VARCHAR, kind VARCHAR, "
                    "is_active BOOLEAN, launched_at TIMESTAMP, unit_cost DOUBLE"),
    rows="SELECT p.id, p.sku, p.name, p.name_zh, p.family, p.kind, p.is_active, TIME_TEXT(p.created_at), {product_cost} "
         "FROM {sales_product} p WHERE {filter}",
    unit_column="product_id", unit_expression="p.id",
    requires=("sales",),
)

DIM_CAMPAIGN = Table(
    name="dim_campaign",
    columns=columns("campaign_id BIGINT, name VARCHAR, channel VARCHAR, status VARCHAR, segment_id BIGINT, "
                    "budget DOUBLE, planned_cost DOUBLE, actual_cost DOUBLE, expected_revenue DOUBLE, "
                    "currency VARCHAR, audience_count BIGINT, launched_at TIMESTAMP, completed_at TIMESTAMP, "
                    "created_at TIMESTAMP"),
    rows="SELECT m.id, m.name, m.channel, m.status, m.segment_id, m.budget, m.planned_cost, m.actual_cost, "
         "m.expected_revenue, m.currency, m.audience_count, TIME_TEXT(m.launched_at), TIME_TEXT(m.completed_at), TIME_TEXT(m.created_at) "
         "FROM {marketing_campaign} m WHERE {filter}",
    unit_column="campaign_id", unit_expression="m.id",
    requires=("marketing",),
)


def _channel_rows() -> list[tuple]:
    from guanxi.core.models import Channel

    # English labels: pages translate the code through ``Channel`` at display time.
    return [(code, str(label)) for code, label in Channel.choices]


DIM_CHANNEL = Table(
    name="dim_channel",
    columns=columns("channel VARCHAR, label VARCHAR"),
    unit_column="channel",
    python_rows=_channel_rows,
)

#: ``dim_date`` is generated by the loader from the earliest to the latest date in use.
DIM_DATE = Table(
    name="dim_date",
    columns=columns("date_key DATE, year INTEGER, quarter INTEGER, month INTEGER, day INTEGER, "
                    "weekday INTEGER, year_month VARCHAR"),
    unit_column="date_key",
)


# ======================================================================================
# Facts
# ======================================================================================
FACT_ORDER_LINE = Table(
    name="fact_order_line",
    columns=columns(
        "order_line_id BIGINT, order_id BIGINT, order_number VARCHAR, customer_id BIGINT, account_id BIGINT, "
        "product_id BIGINT, owner_id BIGINT, team_id BIGINT, territory_id BIGINT, opportunity_id BIGINT, "
        "campaign_id BIGINT, status VARCHAR, currency VARCHAR, ordered_at TIMESTAMP, quantity DOUBLE, "
        "unit_price DOUBLE, discount_percent DOUBLE, list_amount_base DOUBLE, amount_base DOUBLE, "
        "discount_base DOUBLE"),
    rows="""
        SELECT l.id, o.id, o.number, o.contact_id, o.account_id, l.product_id, o.owner_id, o.team_id,
               o.territory_id, o.opportunity_id, op.campaign_id, o.status, o.currency, TIME_TEXT(o.ordered_at), l.quantity,
               l.unit_price, l.discount_percent,
               l.quantity * l.unit_price * COALESCE(r.rate_to_base, 1),
               l.line_total * COALESCE(r.rate_to_base, 1),
               (l.quantity * l.unit_price - l.line_total) * COALESCE(r.rate_to_base, 1)
          FROM {sales_orderline} l
          JOIN {sales_order} o ON o.id = l.order_id
          LEFT JOIN {sales_opportunity} op ON op.id = o.opportunity_id
          LEFT JOIN {sales_exchangerate} r ON r.currency = o.currency
         WHERE {filter}""",
    unit_column="order_id", unit_expression="l.order_id",
    all_units="SELECT DISTINCT order_id AS unit FROM {sales_orderline}",
    row_count="SELECT COUNT(*) FROM {sales_orderline}",
    changed_units="SELECT id FROM {sales_order} WHERE updated_at > %s",
    watermark="SELECT MAX(updated_at) FROM {sales_order}",
    watermark_kind="time",
    requires=("sales",),
)

FACT_OPPORTUNITY = Table(
    name="fact_opportunity",
    columns=columns(
        "opportunity_id BIGINT, name VARCHAR, customer_id BIGINT, account_id BIGINT, owner_id BIGINT, "
        "team_id BIGINT, territory_id BIGINT, stage_name VARCHAR, stage_kind VARCHAR, probability INTEGER, "
        "amount_base DOUBLE, currency VARCHAR, close_date DATE, created_at TIMESTAMP, closed_at TIMESTAMP, "
        "is_closed BOOLEAN, is_won BOOLEAN, campaign_id BIGINT, lead_id BIGINT"),
    rows="""
        SELECT op.id, op.name, op.contact_id, op.account_id, op.owner_id, op.team_id, op.territory_id, s.name,
               s.kind, s.probability, op.amount_base, op.currency, op.close_date, TIME_TEXT(op.created_at),
               TIME_TEXT(op.closed_at),
               op.is_closed, op.is_won, op.campaign_id, op.lead_id
          FROM {sales_opportunity} op
          JOIN {sales_stage} s ON s.id = op.stage_id
         WHERE {filter}""",
    unit_column="opportunity_id", unit_expression="op.id",
    all_units="SELECT id AS unit FROM {sales_opportunity}",
    row_count="SELECT COUNT(*) FROM {sales_opportunity}",
    changed_units="SELECT id FROM {sales_opportunity} WHERE updated_at > %s",
    watermark="SELECT MAX(updated_at) FROM {sales_opportunity}",
    watermark_kind="time",
    requires=("sales",),
)

FACT_LEAD = Table(
    name="fact_lead",
    columns=columns("lead_id BIGINT, campaign_id BIGINT, status VARCHAR, source VARCHAR, owner_id BIGINT, "
                    "created_at TIMESTAMP, converted_at TIMESTAMP, customer_id BIGINT"),
    rows="SELECT ld.id, ld.campaign_id, ld.status, ld.source, ld.owner_id, TIME_TEXT(ld.created_at), TIME_TEXT(ld.converted_at), "
         "ld.converted_contact_id FROM {sales_lead} ld WHERE {filter}",
    unit_column="lead_id", unit_expression="ld.id",
    all_units="SELECT id AS unit FROM {sales_lead}",
    row_count="SELECT COUNT(*) FROM {sales_lead}",
    changed_units="SELECT id FROM {sales_lead} WHERE updated_at > %s",
    watermark="SELECT MAX(updated_at) FROM {sales_lead}",
    watermark_kind="time",
    requires=("sales",),
)

FACT_INTERACTION = Table(
    name="fact_interaction",
    columns=columns("interaction_id BIGINT, customer_id BIGINT, account_id BIGINT, agent_id BIGINT, "
                    "channel VARCHAR, direction VARCHAR, occurred_at TIMESTAMP, duration_seconds BIGINT, "
                    "reason VARCHAR, outcome VARCHAR, source_type VARCHAR"),
    rows="SELECT i.id, i.contact_id, i.account_id, i.agent_id, i.channel, i.direction, TIME_TEXT(i.occurred_at), "
         "i.duration_seconds, i.reason, i.outcome, i.source_type FROM {interactions_interaction} i WHERE {filter}",
    unit_column="interaction_id", unit_expression="i.id",
    all_units="SELECT id AS unit FROM {interactions_interaction}",
    row_count="SELECT COUNT(*) FROM {interactions_interaction}",
    # The log is append-mostly: new acts by id; removals are found by ``all_units``.
    changed_units="SELECT id FROM {interactions_interaction} WHERE id > %s",
    watermark="SELECT MAX(id) FROM {interactions_interaction}",
    watermark_kind="id",
)

FACT_CASE = Table(
    name="fact_case",
    columns=columns(
        "case_id BIGINT, number VARCHAR, customer_id BIGINT, account_id BIGINT, category VARCHAR, priority VARCHAR, "
        "origin VARCHAR, status VARCHAR, product VARCHAR, assignee_id BIGINT, team_id BIGINT, territory_id BIGINT, "
        "created_at TIMESTAMP, first_responded_at TIMESTAMP, resolved_at TIMESTAMP, closed_at TIMESTAMP, "
        "first_response_breached BOOLEAN, resolution_breached BOOLEAN, first_contact_resolution BOOLEAN, "
        "reopened_count INTEGER, escalation_level INTEGER, csat_score INTEGER, nps_score INTEGER, "
        "survey_answered_at TIMESTAMP"),
    rows="""
        SELECT k.id, k.number, k.contact_id, k.account_id, k.category, k.priority, k.origin, k.status, k.product,
               k.assignee_id, k.team_id, k.territory_id, TIME_TEXT(k.created_at), TIME_TEXT(k.first_responded_at),
               TIME_TEXT(k.resolved_at), TIME_TEXT(k.closed_at), k.first_response_breached, k.resolution_breached, k.first_contact_resolution,
               k.reopened_count, k.escalation_level, s.csat_score, s.nps_score, TIME_TEXT(s.answered_at)
          FROM {service_case} k
          LEFT JOIN {service_survey} s ON s.case_id = k.id
         WHERE {filter}""",
    unit_column="case_id", unit_expression="k.id",
    all_units="SELECT id AS unit FROM {service_case}",
    row_count="SELECT COUNT(*) FROM {service_case}",
    changed_units="""
        SELECT id FROM {service_case} WHERE updated_at > %s
        UNION SELECT case_id FROM {service_survey} WHERE answered_at > %s""",
    watermark="""
        SELECT MAX(stamp) FROM (SELECT MAX(updated_at) AS stamp FROM {service_case}
                                UNION ALL SELECT MAX(answered_at) FROM {service_survey}) stamps""",
    watermark_kind="time",
    requires=("service",),
)

FACT_COMPLAINT = Table(
    name="fact_complaint",
    columns=columns("complaint_id BIGINT, customer_id BIGINT, account_id BIGINT, case_id BIGINT, "
                    "severity VARCHAR, status VARCHAR, received_at TIMESTAMP, closed_at TIMESTAMP"),
    rows="SELECT cp.id, cp.contact_id, cp.account_id, cp.case_id, cp.severity, cp.status, TIME_TEXT(cp.received_at), "
         "TIME_TEXT(cp.closed_at) FROM {service_complaint} cp WHERE {filter}",
    unit_column="complaint_id", unit_expression="cp.id",
    all_units="SELECT id AS unit FROM {service_complaint}",
    row_count="SELECT COUNT(*) FROM {service_complaint}",
    # A complaint has no "updated at"; every change of its status is a step with a time.
    changed_units="""
        SELECT id FROM {service_complaint} WHERE received_at > %s
        UNION SELECT complaint_id FROM {service_complaintstep} WHERE at > %s""",
    watermark="""
        SELECT MAX(stamp) FROM (SELECT MAX(received_at) AS stamp FROM {service_complaint}
                                UNION ALL SELECT MAX(at) FROM {service_complaintstep}) stamps""",
    watermark_kind="time",
    requires=("service",),
)

FACT_CAMPAIGN_RESPONSE = Table(
    name="fact_campaign_response",
    columns=columns("response_id BIGINT, campaign_id BIGINT, customer_id BIGINT, kind VARCHAR, "
                    "occurred_at TIMESTAMP"),
    rows="SELECT cr.id, cr.campaign_id, cr.contact_id, cr.kind, TIME_TEXT(cr.occurred_at) "
         "FROM {marketing_campaignresponse} cr WHERE {filter}",
    unit_column="response_id", unit_expression="cr.id",
    all_units="SELECT id AS unit FROM {marketing_campaignresponse}",
    row_count="SELECT COUNT(*) FROM {marketing_campaignresponse}",
    changed_units="SELECT id FROM {marketing_campaignresponse} WHERE id > %s",
    watermark="SELECT MAX(id) FROM {marketing_campaignresponse}",
    watermark_kind="id",
    requires=("marketing",),
)

CUSTOMER_SCORE = Table(
    name="customer_score",
    columns=columns("customer_id BIGINT, last_purchase_on DATE, frequency INTEGER, monetary DOUBLE, r INTEGER, "
                    "f INTEGER, m INTEGER, rfm INTEGER, value_tier VARCHAR, lifetime_value DOUBLE, "
                    "expected_purchases DOUBLE, probability_alive DOUBLE, churn_risk DOUBLE, scored_at TIMESTAMP"),
    rows="SELECT s.contact_id, s.last_purchase_on, s.frequency, s.monetary, s.r, s.f, s.m, s.rfm, s.value_tier, "
         "s.lifetime_value, s.expected_purchases, s.probability_alive, s.churn_risk, TIME_TEXT(s.updated_at) "
         "FROM {analytics_customerscore} s WHERE {filter}",
    unit_column="customer_id", unit_expression="s.contact_id",
    all_units="SELECT contact_id AS unit FROM {analytics_customerscore}",
    row_count="SELECT COUNT(*) FROM {analytics_customerscore}",
    changed_units="SELECT contact_id FROM {analytics_customerscore} WHERE updated_at > %s",
    watermark="SELECT MAX(updated_at) FROM {analytics_customerscore}",
    watermark_kind="time",
)

#: Load order: dimensions first, ``dim_date`` last (it spans the facts' dates).
TABLES: tuple[Table, ...] = (
    DIM_CUSTOMER, DIM_REGION, DIM_PRODUCT, DIM_CAMPAIGN, DIM_CHANNEL,
    FACT_ORDER_LINE, FACT_OPPORTUNITY, FACT_LEAD, FACT_INTERACTION, FACT_CASE, FACT_COMPLAINT,
    FACT_CAMPAIGN_RESPONSE, CUSTOMER_SCORE, DIM_DATE,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}


def source_available(table: Table) -> bool:
    """Whether the apps a table reads from are installed (a missing domain leaves it empty)."""
    return all(apps.is_installed(SOURCE_APPS[label]) for label in table.requires)


def operational_tables() -> dict[str, str]:
    """``app_model`` → the model's database table, for every installed model (keys are
    the default table names the SQL above is written with)."""
    names = {}
    for model in apps.get_models():
        names[f"{model._meta.app_label}_{model._meta.model_name}"] = model._meta.db_table
    return names


TIME_TEXT = re.compile(r"TIME_TEXT\(([^()]*)\)")


def sql_for(table: Table, text: str, *, filter_sql: str = "TRUE") -> str:
    """``text`` (one of the table's SQL pieces) with real table names and the filter.

    ``TIME_TEXT(column)`` marks a date-time column. SQLite then hands it over as the text
    it stores (UTC), which NumPy parses a hundred times faster than the driver builds
    datetime objects; PostgreSQL keeps its ``timestamptz``.
    """
    values = {key: f'"{value}"' for key, value in operational_tables().items()}
    values["filter"] = filter_sql
    values["product_cost"] = _product_cost_expression() if table is DIM_PRODUCT else "NULL"
    text = TIME_TEXT.sub(r"CAST(\1 AS TEXT)" if connection.vendor == "sqlite" else r"\1", text)
    return text.format(**values)
