"""Built-in analyses answering the questions of SPEC §7, run on the warehouse.

Each analysis is a small class: the question it answers, a form for its parameters, and
``run`` with the SQL (the subset DuckDB and PostgreSQL share; ``?`` placeholders). Every
query counts only what the reader may see: ``AnalysisContext.scope`` adds the visible
customers (and accounts) of ``guanxi.analytics.selectors.visibility`` to the query.

The registry (``ANALYSES``) is filled by the modules of this package: ``customers``
(value, segments, discounts, channels, strategy goals), ``products``, ``market``
(campaigns) and ``operations`` (key accounts, sales, service, contact center).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.apps import apps
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.analytics import warehouse
from guanxi.analytics.selectors.visibility import RecordScope
from guanxi.core.models import IncomeBand, User, ValueTier

NOT_GIVEN = _("Not given")
ROW_LIMIT = 500


# ======================================================================================
# Results
# ======================================================================================
@dataclass(frozen=True)
class ResultColumn:
    key: str
    label: str
    kind: str = "text"  # text, integer, number, money, percent, date, contact


@dataclass
class SubTable:
    title: str
    columns: list[ResultColumn]
    rows: list[dict]


@dataclass
class AnalysisResult:
    columns: list[ResultColumn]
    rows: list[dict]
    chart: dict | None = None
    kpis: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    tables: list[SubTable] = field(default_factory=list)  # further breakdowns shown below the main table


# ======================================================================================
# Context: who reads, and what they may count
# ======================================================================================
@dataclass
class AnalysisContext:
    actor: User
    customers: RecordScope
    accounts: RecordScope
    today: datetime.date

    def scope(self, customer_column: str, account_column: str | None = None) -> tuple[str, list]:
        """``AND (customer visible [OR account visible])`` for a fact, or nothing."""
        if self.customers.everything and (account_column is None or self.accounts.everything):
            return "", []
        customer_sql, customer_params = self.customers.condition(customer_column)
        if account_column is None:
            return customer_sql, customer_params
        account_sql, account_params = self.accounts.condition(account_column)
        customer_part = customer_sql.removeprefix(" AND ") or "TRUE"
        account_part = account_sql.removeprefix(" AND ") or "TRUE"
        return f" AND ({customer_part} OR {account_part})", customer_params + account_params

    def rows(self, sql: str, params: list) -> list[dict]:
        names, rows = warehouse.query(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def age_expression(self, column: str = "c.birth_date") -> str:
        """Whole years of age today (integers computed here, never user input)."""
        year, month_day = self.today.year, self.today.month * 100 + self.today.day
        return (f"({year} - EXTRACT(YEAR FROM {column}) - CASE WHEN {month_day} < EXTRACT(MONTH FROM {column}) * 100 "
                f"+ EXTRACT(DAY FROM {column}) THEN 1 ELSE 0 END)")

    def age_band_expression(self, column: str = "c.birth_date") -> str:
        age = self.age_expression(column)
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {age} < 25 THEN 'a<25' WHEN {age} < 35 THEN 'b25-34' "
                f"WHEN {age} < 45 THEN 'c35-44' WHEN {age} < 55 THEN 'd45-54' WHEN {age} < 65 THEN 'e55-64' "
                f"ELSE 'f65+' END")


AGE_BAND_LABELS = {"a<25": _("Under 25"), "b25-34": _("25–34"), "c35-44": _("35–44"), "d45-54": _("45–54"),
                   "e55-64": _("55–64"), "f65+": _("65 and over")}


# ======================================================================================
# Analyses
# ======================================================================================
class Analysis:
    key = ""
    section = ""
    title = ""
    question = ""
    requires: tuple[str, ...] = ()  # domains whose data it needs
    form_class: type[forms.Form] = forms.Form

    def available(self) -> bool:
        return all(apps.is_installed(f"guanxi.{label}") for label in self.requires)

    def form(self, data=None) -> forms.Form:
        return self.form_class(data or None)

    def run(self, context: AnalysisContext, params: dict) -> AnalysisResult:
        raise NotImplementedError


ANALYSES: dict[str, Analysis] = {}
SECTIONS = {"customers": _("Customers"), "products": _("Products"), "market": _("Market"),
            "operations": _("Sales, service and contact center")}


def register(analysis_class: type[Analysis]) -> type[Analysis]:
    ANALYSES[analysis_class.key] = analysis_class()
    return analysis_class


# ======================================================================================
# Shared pieces
# ======================================================================================
class PeriodForm(forms.Form):
    months = forms.IntegerField(label=_("Months to look back"), min_value=1, max_value=120, initial=12,
                                required=False, help_text=_("The period ends today."))

    def clean_months(self):
        return self.cleaned_data.get("months") or 12


def months_ago(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    return datetime.date(year, month + 1, min(day.day, 28))


def number(value) -> float:
    if value is None:
        return 0.0
    return float(value) if isinstance(value, (Decimal, int, float)) else float(value)


def ratio(part, whole) -> float | None:
    whole = number(whole)
    return None if whole == 0 else number(part) / whole


def choice_label(choices, value) -> str:
    if value is None or value == "":
        return str(NOT_GIVEN)
    return str(dict(choices).get(value, value))


def month_label(value) -> str:
    if isinstance(value, datetime.datetime):
        value = value.date()
    return value.strftime("%Y-%m") if isinstance(value, datetime.date) else str(value)


def today() -> datetime.date:
    return timezone.localdate()


TIER_CHOICES = ValueTier.choices
INCOME_CHOICES = IncomeBand.choices

# The modules register their analyses on import.
from guanxi.analytics.analyses import customers, market, operations, products  # noqa: E402,F401
