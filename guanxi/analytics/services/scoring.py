"""RFM scores, value tiers and lifetime values computed from the warehouse and written back
to the customers.

Both scorings read one row per order (customer, day, amount in the base currency) from
``fact_order_line`` (cancelled orders excluded), run the plain-NumPy engines
(``guanxi.analytics.rfm``, ``guanxi.analytics.clv``) and write only what changed, in a
few set-based statements: ``CustomerScore`` rows, ``Contact.value_tier`` and
``Contact.lifetime_value``, and a ``TierChange`` for every move between tiers. These are
derived fields: writing them does not touch a contact's ``updated_at`` or ``version``
(nobody edited the customer, and the warehouse would otherwise re-read every customer).
"""

from __future__ import annotations

import datetime
import os
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.analytics import clv, rfm, warehouse
from guanxi.analytics.models import CustomerScore, RunStatus, ScoringKind, ScoringRun, TierChange
from guanxi.core import bulk_writes
from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import Contact, User, ValueTier

#: One row per order: the transactions the models see.
PURCHASES_SQL = """
    SELECT f.customer_id AS customer_id, CAST(f.ordered_at AS DATE) AS day, SUM(f.amount_base) AS amount
      FROM fact_order_line f
      JOIN dim_customer c ON c.customer_id = f.customer_id
     WHERE f.status <> 'cancelled' AND CAST(f.ordered_at AS DATE) <= ?
     GROUP BY f.order_id, f.customer_id, CAST(f.ordered_at AS DATE)
     ORDER BY f.customer_id"""

CLV_MONTHS = 12
CENT = Decimal("0.01")


def require_scoring_right(actor: User | None) -> None:
    if actor is not None and not can(actor, "customer_score", "change"):
        raise PermissionDenied(_("You may not recompute customer scores."))


def value_pyramid() -> tuple[tuple[str, float], ...]:
    """``GUANXI_VALUE_PYRAMID``, e.g. ``platinum:0.01,gold:0.04,silver:0.15,bronze:0.80``."""
    text = getattr(settings, "GUANXI_VALUE_PYRAMID", None) or os.environ.get("GUANXI_VALUE_PYRAMID", "")
    if not text:
        return rfm.DEFAULT_PYRAMID
    pyramid = []
    for part in text.split(","):
        name, _colon, share = part.partition(":")
        if name.strip() not in ValueTier.values:
            raise ImproperlyConfigured(f"GUANXI_VALUE_PYRAMID: unknown tier {name.strip()!r}; use {ValueTier.values}")
        pyramid.append((name.strip(), float(share)))
    rfm.validate_pyramid(pyramid)
    return tuple(pyramid)


def purchases(reference_date: datetime.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, purchase days, amounts) of every order up to ``reference_date``."""
    try:
        columns = warehouse.query_columns(PURCHASES_SQL, [reference_date])
    except warehouse.WarehouseNotBuilt as error:
        raise Conflict(_("The warehouse has not been built yet; refresh it first.")) from error
    customer_ids = np.asarray(columns["customer_id"]).astype(np.int64)
    days = np.asarray(columns["day"]).astype("datetime64[D]")
    amounts = np.asarray(columns["amount"]).astype(np.float64)
    return customer_ids, days, amounts


def _existing_contact_ids() -> np.ndarray:
    return np.fromiter(Contact.objects.values_list("pk", flat=True).iterator(chunk_size=50_000), dtype=np.int64)


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


# ======================================================================================
# RFM and the value pyramid
# ======================================================================================
RFM_FIELDS = ("last_purchase_on", "frequency", "monetary", "r", "f", "m", "rfm", "value_tier")


@transaction.atomic
def rfm_scores_compute(*, actor: User | None, reference_date: datetime.date | None = None) -> ScoringRun:
    """Score every customer who bought (RFM quintiles, value tier) as of ``reference_date``
    (default today) and write tiers back; customers who no longer have purchases leave the
    pyramid."""
    require_scoring_right(actor)
    reference_date = reference_date or timezone.localdate()
    pyramid = value_pyramid()
    run = ScoringRun.objects.create(kind=ScoringKind.RFM, status=RunStatus.SUCCEEDED, reference_date=reference_date,
                                    started_by=actor, parameters={"pyramid": [list(item) for item in pyramid]})
    customer_ids, days, amounts = purchases(reference_date)
    present = np.isin(customer_ids, _existing_contact_ids())
    customer_ids, days, amounts = customer_ids[present], days[present], amounts[present]
    now = timezone.now()
    computed: dict[int, tuple] = {}
    if len(customer_ids):
        scores = rfm.rfm_scores(customer_ids, days, amounts, reference_date=np.datetime64(reference_date),
                                pyramid=pyramid)
        last_days = (np.datetime64(reference_date) - scores.recency.astype("timedelta64[D]")).astype(object)
        for contact_id, last_day, frequency, monetary, r, f, m, code, tier in zip(
                scores.customer_id.tolist(), last_days.tolist(), scores.frequency.tolist(), scores.monetary.tolist(),
                scores.r.tolist(), scores.f.tolist(), scores.m.tolist(), scores.rfm.tolist(),
                scores.tier_name.tolist(), strict=True):
            computed[contact_id] = (last_day, frequency, _money(monetary), r, f, m, code, tier)
    run.customers = len(computed)
    run.changed = _write_rfm(computed, run, now)
    run.finished_at = timezone.now()
    run.message = _("%(customers)d customers scored; %(changed)d changed.") % {
        "customers": run.customers, "changed": run.changed}
    run.save()
    return run


def _write_rfm(computed: dict[int, tuple], run: ScoringRun, now: datetime.datetime) -> int:
    existing = {row[1]: row for row in CustomerScore.objects.values_list("pk", "contact_id", *RFM_FIELDS)
                .iterator(chunk_size=50_000)}
    nothing = (None, 0, Decimal("0.00"), None, None, None, None, "")
    updates, inserts, moves = [], [], []
    for contact_id, values in computed.items():
        row = existing.get(contact_id)
        if row is None:
            inserts.append((contact_id, *values))
            moves.append(TierChange(contact_id=contact_id, from_tier="", to_tier=values[7], rfm_after=values[6],
                                    changed_at=now, run=run))
            continue
        before = tuple(row[2:])
        if before != values:
            updates.append((row[0], *values, now, now))
            if before[7] != values[7]:
                moves.append(TierChange(contact_id=contact_id, from_tier=before[7], to_tier=values[7],
                                        rfm_before=before[6], rfm_after=values[6], changed_at=now, run=run))
    for contact_id, row in existing.items():
        if contact_id not in computed and tuple(row[2:]) != nothing:
            updates.append((row[0], *nothing, now, now))
            if row[9]:
                moves.append(TierChange(contact_id=contact_id, from_tier=row[9], to_tier="", rfm_before=row[8],
                                        changed_at=now, run=run))
    bulk_writes.update_rows(CustomerScore, ("id", *RFM_FIELDS, "rfm_scored_at", "updated_at"), updates)
    bulk_writes.insert_rows(CustomerScore, ("contact_id", *RFM_FIELDS, "rfm_scored_at", "updated_at",
                                            "churn_reasons"),
                            [(*values, now, now, []) for values in inserts])
    TierChange.objects.bulk_create(moves, batch_size=5000)
    _write_contact_tiers({contact_id: values[7] for contact_id, values in computed.items()})
    return len(updates) + len(inserts)


def _write_contact_tiers(tiers: dict[int, str]) -> None:
    """``Contact.value_tier`` follows the computed tier; contacts without one are cleared."""
    changed = [(contact_id, tiers.get(contact_id, "")) for contact_id, current in
               Contact.objects.values_list("pk", "value_tier").iterator(chunk_size=50_000)
               if current != tiers.get(contact_id, "")]
    bulk_writes.update_rows(Contact, ("id", "value_tier"), changed)


# ======================================================================================
# Lifetime value
# ======================================================================================
CLV_FIELDS = ("lifetime_value", "expected_purchases", "probability_alive")


def monthly_discount_rate() -> float:
    return float(getattr(settings, "GUANXI_CLV_MONTHLY_DISCOUNT_RATE", None)
                 or os.environ.get("GUANXI_CLV_MONTHLY_DISCOUNT_RATE", "0.01"))


@transaction.atomic
def lifetime_values_compute(*, actor: User | None, reference_date: datetime.date | None = None) -> ScoringRun:
    """Fit BG/NBD (purchase counts) and Gamma-Gamma (spend) on every customer's history and
    write the 12-month discounted lifetime value back. With too little history, or a fit
    that does not converge, nothing is written and the run says why."""
    require_scoring_right(actor)
    reference_date = reference_date or timezone.localdate()
    discount = monthly_discount_rate()
    run = ScoringRun(kind=ScoringKind.LIFETIME_VALUE, reference_date=reference_date, started_by=actor,
                     parameters={"months": CLV_MONTHS, "monthly_discount_rate": discount})
    customer_ids, days, amounts = purchases(reference_date)
    present = np.isin(customer_ids, _existing_contact_ids())
    customer_ids, days, amounts = customer_ids[present], days[present], amounts[present]
    try:
        if not len(customer_ids):
            raise clv.InsufficientHistoryError("no customer has bought anything yet")
        summary = clv.summary_from_transactions(customer_ids, days, amounts, period="days",
                                                observation_end=np.datetime64(reference_date))
        purchase_model = clv.BGNBDModel.fit(summary.frequency, summary.recency, summary.T)
        spend_model = clv.GammaGammaModel.fit(summary.frequency, np.where(summary.monetary_value > 0,
                                                                          summary.monetary_value, 0.0))
    except clv.InsufficientHistoryError as error:
        return _finish_without_fit(run, RunStatus.TOO_LITTLE_HISTORY, _(
            "Too little purchase history to estimate lifetime values (%(reason)s). Lifetime values appear once "
            "enough customers have bought more than once.") % {"reason": error})
    except clv.FitDidNotConvergeError as error:
        run.parameters = {**run.parameters, "last_parameters": error.last_parameters,
                          "log_likelihood": error.log_likelihood}
        return _finish_without_fit(run, RunStatus.NOT_CONVERGED, _(
            "The lifetime value model did not converge (%(reason)s); the values were not updated.")
            % {"reason": error})
    except clv.InvalidSummaryError as error:
        return _finish_without_fit(run, RunStatus.FAILED, _("The purchase history cannot be modelled: %(reason)s")
                                   % {"reason": error})
    frequency, recency, age, spend = summary.frequency, summary.recency, summary.T, summary.monetary_value
    spend = np.where((frequency > 0) & (spend <= 0), np.nan, spend)
    repeat_spend_known = ~np.isnan(spend)
    spend = np.where(repeat_spend_known, spend, 0.0)
    frequency_for_spend = np.where(repeat_spend_known, frequency, 0)  # refunds: population mean spend
    values = clv.customer_lifetime_value(purchase_model, spend_model, frequency_for_spend, recency, age, spend,
                                         months=CLV_MONTHS, monthly_discount_rate=discount, period="days")
    expected = purchase_model.expected_purchases(CLV_MONTHS * clv.PERIODS_PER_MONTH["days"], frequency, recency, age)
    alive = purchase_model.probability_alive(frequency, recency, age)
    run.status = RunStatus.SUCCEEDED
    run.parameters = {**run.parameters, "bgnbd": purchase_model.parameters, "gamma_gamma": spend_model.parameters,
                      "bgnbd_log_likelihood": purchase_model.log_likelihood, "repeat_buyers": spend_model.customers}
    run.customers = len(summary)
    run.save()
    computed = {contact_id: (_money(value), round(float(purchases_expected), 4), round(float(probability), 4))
                for contact_id, value, purchases_expected, probability in zip(
                    summary.customer_id.tolist(), values.tolist(), expected.tolist(), alive.tolist(), strict=True)}
    run.changed = _write_lifetime_values(computed)
    run.finished_at = timezone.now()
    run.message = _("Lifetime values of %(customers)d customers; %(changed)d changed.") % {
        "customers": run.customers, "changed": run.changed}
    run.save()
    return run


def _finish_without_fit(run: ScoringRun, status: str, message: str) -> ScoringRun:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.save()
    return run


def _write_lifetime_values(computed: dict[int, tuple]) -> int:
    now = timezone.now()
    existing = {row[1]: row for row in CustomerScore.objects.values_list("pk", "contact_id", *CLV_FIELDS)
                .iterator(chunk_size=50_000)}
    updates, inserts = [], []
    for contact_id, values in computed.items():
        row = existing.get(contact_id)
        if row is None:
            inserts.append((contact_id, *values, now, now, 0, Decimal("0.00"), "", []))
        elif tuple(row[2:]) != values:
            updates.append((row[0], *values, now, now))
    for contact_id, row in existing.items():
        if contact_id not in computed and any(value is not None for value in row[2:]):
            updates.append((row[0], None, None, None, now, now))
    bulk_writes.update_rows(CustomerScore, ("id", *CLV_FIELDS, "clv_scored_at", "updated_at"), updates)
    bulk_writes.insert_rows(CustomerScore, ("contact_id", *CLV_FIELDS, "clv_scored_at", "updated_at", "frequency",
                                            "monetary", "value_tier", "churn_reasons"), inserts)
    # Customers without purchases any more (all orders cancelled) lose their value.
    contact_values = []
    for contact_id, current in Contact.objects.values_list("pk", "lifetime_value").iterator(chunk_size=50_000):
        wanted = computed.get(contact_id, (None,))[0]
        if current != wanted:
            contact_values.append((contact_id, wanted))
    bulk_writes.update_rows(Contact, ("id", "lifetime_value"), contact_values)
    return len(updates) + len(inserts)


# ======================================================================================
# In the background
# ======================================================================================
SCORING_JOB = "analytics.score_customers"
SCORING_KINDS = ("rfm", "clv", "churn")


def scoring_enqueue(*, actor: User | None, kinds: tuple[str, ...] = SCORING_KINDS, refresh_first: bool = True,
                    idempotency_key: str | None = None):
    """Refresh the warehouse, then recompute the chosen scores, in a background job."""
    from guanxi.jobs import services as job_services

    require_scoring_right(actor)
    unknown = set(kinds) - set(SCORING_KINDS)
    if unknown:
        raise ValueError(f"unknown scoring kinds {sorted(unknown)}")
    return job_services.job_enqueue(actor=actor, kind=SCORING_JOB, title=_("Score customers"),
                                    params={"kinds": list(kinds), "refresh": refresh_first},
                                    idempotency_key=idempotency_key)
