"""Churn: features from the warehouse, training the model (with its model card), daily
scoring written back to customers, and the retention list fed from the scores.

A customer *churns* when an active customer (one who bought in the year before a day)
buys nothing in the ``horizon`` days after it. Training looks back: features as of
``today − horizon``, outcome over the horizon since. Scoring looks ahead: features as of
today, the risk of buying nothing in the next ``horizon`` days. Customers without a
purchase in the past year are lost already and get no risk.
"""

from __future__ import annotations

import datetime
import os
import pickle
from dataclasses import dataclass

import numpy as np
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.analytics import churn, warehouse
from guanxi.analytics.models import ChurnModel, CustomerScore, RetentionListEntry, RunStatus, ScoringKind, ScoringRun
from guanxi.analytics.services.scoring import require_scoring_right
from guanxi.core import bulk_writes
from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import Contact, User

HORIZON_DAYS = 90
ACTIVE_WITHIN_DAYS = 365
RETRAIN_AFTER = datetime.timedelta(days=7)
REASON_COUNT = 3

#: Feature name → label shown with a customer's reasons and on the model card.
FEATURES = {
    "tenure_days": gettext_lazy("Days since becoming a customer"),
    "recency_days": gettext_lazy("Days since the last purchase"),
    "orders_last_year": gettext_lazy("Orders in the past year"),
    "spend_last_year": gettext_lazy("Spend in the past year"),
    "spend_trend": gettext_lazy("Spend trend (last 90 days against the 90 before)"),
    "complaints": gettext_lazy("Complaints in the past year"),
    "cases": gettext_lazy("Service cases in the past year"),
    "sla_breaches": gettext_lazy("Service-level breaches in the past year"),
    "satisfaction": gettext_lazy("Average satisfaction (CSAT)"),
    "interactions_phone": gettext_lazy("Phone and IVR contacts in the last 90 days"),
    "interactions_email": gettext_lazy("Emails and letters in the last 90 days"),
    "interactions_digital": gettext_lazy("Chat, SMS, web and video contacts in the last 90 days"),
    "interactions_in_person": gettext_lazy("Visits in the last 90 days"),
}
FEATURE_NAMES = tuple(FEATURES)
CHANNEL_GROUPS = {"phone": "phone", "ivr": "phone", "email": "email", "letter": "email", "fax": "email",
                  "chat": "digital", "sms": "digital", "web": "digital", "video": "digital",
                  "auto_reply": "digital", "visit": "in_person"}

PURCHASES_AT_SQL = """
    WITH orders AS (
        SELECT f.customer_id AS customer_id, f.order_id AS order_id, CAST(f.ordered_at AS DATE) AS day,
               SUM(f.amount_base) AS amount
          FROM fact_order_line f
         WHERE f.status <> 'cancelled' AND f.customer_id IS NOT NULL AND CAST(f.ordered_at AS DATE) <= ?
         GROUP BY f.customer_id, f.order_id, CAST(f.ordered_at AS DATE))
    SELECT o.customer_id AS customer_id, CAST(MIN(c.created_at) AS DATE) AS joined_on, MIN(o.day) AS first_day,
           MAX(o.day) AS last_day, COUNT(*) FILTER (WHERE o.day > ?) AS orders_year,
           COALESCE(SUM(o.amount) FILTER (WHERE o.day > ?), 0) AS spend_year,
           COALESCE(SUM(o.amount) FILTER (WHERE o.day > ?), 0) AS spend_recent,
           COALESCE(SUM(o.amount) FILTER (WHERE o.day > ? AND o.day <= ?), 0) AS spend_previous
      FROM orders o JOIN dim_customer c ON c.customer_id = o.customer_id
     GROUP BY o.customer_id
    HAVING MAX(o.day) > ?
     ORDER BY o.customer_id"""

SERVICE_AT_SQL = """
    SELECT customer_id, COUNT(*) AS cases,
           SUM(CASE WHEN category = 'complaint' THEN 1 ELSE 0 END) AS complaint_cases,
           SUM(CASE WHEN first_response_breached OR resolution_breached THEN 1 ELSE 0 END) AS breaches,
           AVG(CAST(csat_score AS DOUBLE PRECISION)) AS satisfaction
      FROM fact_case
     WHERE customer_id IS NOT NULL AND CAST(created_at AS DATE) > ? AND CAST(created_at AS DATE) <= ?
     GROUP BY customer_id"""

COMPLAINTS_AT_SQL = """
    SELECT customer_id, COUNT(*) AS complaints FROM fact_complaint
     WHERE customer_id IS NOT NULL AND CAST(received_at AS DATE) > ? AND CAST(received_at AS DATE) <= ?
     GROUP BY customer_id"""

INTERACTIONS_AT_SQL = """
    SELECT customer_id, channel, COUNT(*) AS touches FROM fact_interaction
     WHERE customer_id IS NOT NULL AND CAST(occurred_at AS DATE) > ? AND CAST(occurred_at AS DATE) <= ?
     GROUP BY customer_id, channel"""

BOUGHT_BETWEEN_SQL = """
    SELECT DISTINCT customer_id FROM fact_order_line
     WHERE status <> 'cancelled' AND customer_id IS NOT NULL
       AND CAST(ordered_at AS DATE) > ? AND CAST(ordered_at AS DATE) <= ?"""


@dataclass
class FeatureTable:
    customer_ids: np.ndarray
    values: np.ndarray  # customers × FEATURE_NAMES, NaN where unknown


def _numbers(column) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in np.asarray(column).tolist()],
                    dtype=np.float64)


def _days(column) -> np.ndarray:
    return np.asarray(column).astype("datetime64[D]")


def _query(sql: str, params: list) -> dict:
    try:
        return warehouse.query_columns(sql, params)
    except warehouse.WarehouseNotBuilt as error:
        raise Conflict(_("The warehouse has not been built yet; refresh it first.")) from error


def features_at(day: datetime.date) -> FeatureTable:
    """Every customer active on ``day`` (a purchase in the year before), with features as of then."""
    year_ago = day - datetime.timedelta(days=ACTIVE_WITHIN_DAYS)
    recent, previous = day - datetime.timedelta(days=90), day - datetime.timedelta(days=180)
    bought = _query(PURCHASES_AT_SQL, [day, year_ago, year_ago, recent, previous, recent, year_ago])
    customers = np.asarray(bought["customer_id"]).astype(np.int64)
    values = np.full((len(customers), len(FEATURE_NAMES)), np.nan)
    if not len(customers):
        return FeatureTable(customers, values)
    column = {name: position for position, name in enumerate(FEATURE_NAMES)}
    today = np.datetime64(day, "D")
    joined = _days(bought["joined_on"])
    first = _days(bought["first_day"])
    values[:, column["tenure_days"]] = (today - np.minimum(joined, first)).astype(np.float64)
    values[:, column["recency_days"]] = (today - _days(bought["last_day"])).astype(np.float64)
    values[:, column["orders_last_year"]] = _numbers(bought["orders_year"])
    values[:, column["spend_last_year"]] = _numbers(bought["spend_year"])
    spend_recent, spend_previous = _numbers(bought["spend_recent"]), _numbers(bought["spend_previous"])
    values[:, column["spend_trend"]] = (spend_recent - spend_previous) / (spend_recent + spend_previous + 1.0)
    position = {customer: row for row, customer in enumerate(customers.tolist())}

    for name in ("cases", "sla_breaches", "complaints"):
        values[:, column[name]] = 0.0
    service = _query(SERVICE_AT_SQL, [year_ago, day])
    for customer, cases, complaint_cases, breaches, satisfaction in zip(
            *(np.asarray(service[key]).tolist() for key in ("customer_id", "cases", "complaint_cases", "breaches",
                                                           "satisfaction")), strict=True):
        row = position.get(int(customer))
        if row is not None:
            values[row, column["cases"]] = float(cases)
            values[row, column["complaints"]] += float(complaint_cases or 0)
            values[row, column["sla_breaches"]] = float(breaches or 0)
            values[row, column["satisfaction"]] = np.nan if satisfaction is None else float(satisfaction)
    complaints = _query(COMPLAINTS_AT_SQL, [year_ago, day])
    for customer, count in zip(np.asarray(complaints["customer_id"]).tolist(),
                               np.asarray(complaints["complaints"]).tolist(), strict=True):
        row = position.get(int(customer))
        if row is not None:
            values[row, column["complaints"]] += float(count)

    for group in ("phone", "email", "digital", "in_person"):
        values[:, column[f"interactions_{group}"]] = 0.0
    touches = _query(INTERACTIONS_AT_SQL, [recent, day])
    for customer, channel, count in zip(*(np.asarray(touches[key]).tolist() for key in (
            "customer_id", "channel", "touches")), strict=True):
        row = position.get(int(customer))
        group = CHANNEL_GROUPS.get(channel)
        if row is not None and group:
            values[row, column[f"interactions_{group}"]] += float(count)
    return FeatureTable(customers, values)


def churned_between(customers: np.ndarray, start: datetime.date, end: datetime.date) -> np.ndarray:
    """1 for each customer who bought nothing in (start, end], else 0."""
    bought = _query(BOUGHT_BETWEEN_SQL, [start, end])
    returned = np.asarray(bought["customer_id"]).astype(np.int64)
    return (~np.isin(customers, returned)).astype(np.int64)


def horizon_days() -> int:
    return int(getattr(settings, "GUANXI_CHURN_HORIZON_DAYS", None) or os.environ.get("GUANXI_CHURN_HORIZON_DAYS")
               or HORIZON_DAYS)


# ======================================================================================
# Training
# ======================================================================================
def require_training_right(actor: User | None) -> None:
    if actor is not None and not can(actor, "churn_model", "change"):
        raise PermissionDenied(_("You may not train the churn model."))


@transaction.atomic
def churn_model_train(*, actor: User | None, reference_date: datetime.date | None = None) -> ScoringRun:
    """Train a churn model on the outcome of the last ``horizon`` days; the run says what
    happened (the model card is ``ChurnModel`` #``run.parameters['model_id']``)."""
    require_training_right(actor)
    today = reference_date or timezone.localdate()
    horizon = horizon_days()
    cutoff = today - datetime.timedelta(days=horizon)
    run = ScoringRun(kind=ScoringKind.CHURN, reference_date=today, started_by=actor,
                     parameters={"step": "train", "horizon_days": horizon, "cutoff": cutoff.isoformat()})
    table = features_at(cutoff)
    labels = churned_between(table.customer_ids, cutoff, today)
    try:
        training = churn.train_churn_model(table.values, labels, FEATURE_NAMES)
    except churn.InsufficientHistoryError as error:
        run.status = RunStatus.TOO_LITTLE_HISTORY
        run.customers = len(labels)
        run.message = _("Too little history to train a churn model (%(reason)s). It is trained once enough "
                        "customers have been active for %(days)d days.") % {"reason": error, "days": horizon}
        run.finished_at = timezone.now()
        run.save()
        return run
    model = ChurnModel.objects.create(
        trained_by=actor, algorithm=training.algorithm, cross_validation=training.cross_validation,
        auc=training.auc, brier_score=training.brier_score, calibration=training.calibration,
        features=list(FEATURE_NAMES), importances=[[name, value] for name, value in training.importances],
        customers=training.customers, churn_rate=training.churn_rate, horizon_days=horizon, cutoff_date=cutoff,
        estimator=pickle.dumps({"estimator": training.estimator, "baseline": training.baseline.tolist(),
                                "features": list(FEATURE_NAMES)}))
    run.status = RunStatus.SUCCEEDED
    run.customers = training.customers
    run.parameters = {**run.parameters, "model_id": model.pk, "algorithm": training.algorithm, "auc": training.auc}
    run.message = _("Trained %(algorithm)s on %(customers)d customers; AUC %(auc).3f on held-out customers.") % {
        "algorithm": training.algorithm, "customers": training.customers, "auc": training.auc}
    run.finished_at = timezone.now()
    run.save()
    return run


TRAIN_JOB = "analytics.train_churn_model"


def churn_model_train_enqueue(*, actor: User | None):
    """Refresh the warehouse and train a new churn model in the background."""
    from guanxi.jobs import services as job_services

    require_training_right(actor)
    return job_services.job_enqueue(actor=actor, kind=TRAIN_JOB, title=_("Train the churn model"))


def load_estimator(model: ChurnModel) -> tuple[object, np.ndarray]:
    # The pickle is written by churn_model_train only, into the application's own database.
    stored = pickle.loads(bytes(model.estimator))  # noqa: S301
    if list(stored["features"]) != list(FEATURE_NAMES):
        raise Conflict(_("The churn model was trained on other features; train it again."))
    return stored["estimator"], np.asarray(stored["baseline"], dtype=np.float64)


# ======================================================================================
# Scoring
# ======================================================================================
def retention_threshold() -> float:
    return float(getattr(settings, "GUANXI_RETENTION_THRESHOLD", None)
                 or os.environ.get("GUANXI_RETENTION_THRESHOLD", "0.5"))


@transaction.atomic
def churn_scores_compute(*, actor: User | None, reference_date: datetime.date | None = None) -> ScoringRun:
    """Score every active customer with the newest churn model (training one first when there
    is none or it is older than a week), write the risks and reasons back, and refresh the
    retention list."""
    require_scoring_right(actor)
    today = reference_date or timezone.localdate()
    model = ChurnModel.objects.order_by("-trained_at", "-id").first()
    if model is None or timezone.now() - model.trained_at > RETRAIN_AFTER:
        training_run = churn_model_train(actor=None, reference_date=today)  # part of scoring
        if training_run.status != RunStatus.SUCCEEDED and model is None:
            return training_run
        model = ChurnModel.objects.order_by("-trained_at", "-id").first()
    estimator, baseline = load_estimator(model)
    table = features_at(today)
    risk = churn.churn_probabilities(estimator, table.values)
    reasons = churn.top_reasons(estimator, table.values, baseline, count=REASON_COUNT, probabilities=risk)
    present = np.isin(table.customer_ids, np.fromiter(Contact.objects.values_list("pk", flat=True), dtype=np.int64))
    computed = {}
    for row in np.flatnonzero(present).tolist():
        computed[int(table.customer_ids[row])] = (
            round(float(risk[row]), 4),
            [{"feature": FEATURE_NAMES[column], "value": _plain(table.values[row, column]), "effect": round(effect, 4)}
             for column, effect in reasons[row]])
    run = ScoringRun.objects.create(kind=ScoringKind.CHURN, status=RunStatus.SUCCEEDED, reference_date=today,
                                    started_by=actor, customers=len(computed),
                                    parameters={"step": "score", "model_id": model.pk,
                                                "threshold": retention_threshold()})
    run.changed = _write_churn(computed)
    retained = _refresh_retention_list(computed, retention_threshold())
    segment_id = _refresh_retention_segment(sorted(retained), previous_segment_id())
    run.parameters = {**run.parameters, "retention_list": len(retained), "retention_segment_id": segment_id}
    run.message = _("Churn risk of %(customers)d active customers; %(retention)d on the retention list.") % {
        "customers": run.customers, "retention": len(retained)}
    run.finished_at = timezone.now()
    run.save()
    return run


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 2)


def _write_churn(computed: dict[int, tuple]) -> int:
    now = timezone.now()
    existing = {row[1]: row for row in CustomerScore.objects.values_list("pk", "contact_id", "churn_risk",
                                                                           "churn_reasons").iterator(chunk_size=50_000)}
    updates, inserts = [], []
    for contact_id, (risk, reasons) in computed.items():
        row = existing.get(contact_id)
        if row is None:
            inserts.append((contact_id, risk, reasons, now, now, 0, 0, ""))
        elif (row[2], row[3]) != (risk, reasons):
            updates.append((row[0], risk, reasons, now, now))
    for contact_id, row in existing.items():
        if contact_id not in computed and (row[2] is not None or row[3]):
            updates.append((row[0], None, [], now, now))
    bulk_writes.update_rows(CustomerScore, ("id", "churn_risk", "churn_reasons", "churn_scored_at", "updated_at"),
                            updates)
    bulk_writes.insert_rows(CustomerScore, ("contact_id", "churn_risk", "churn_reasons", "churn_scored_at",
                                            "updated_at", "frequency", "monetary", "value_tier"), inserts)
    contacts = [(contact_id, computed.get(contact_id, (None,))[0]) for contact_id, current in
                Contact.objects.values_list("pk", "churn_risk").iterator(chunk_size=50_000)
                if current != computed.get(contact_id, (None,))[0]]
    bulk_writes.update_rows(Contact, ("id", "churn_risk"), contacts)
    return len(updates) + len(inserts)


def _refresh_retention_list(computed: dict[int, tuple], threshold: float) -> set[int]:
    """The in-app retention list: every active customer at or above the threshold."""
    wanted = {contact_id: values for contact_id, values in computed.items() if values[0] >= threshold}
    existing = dict(RetentionListEntry.objects.values_list("contact_id", "pk"))
    bulk_writes.delete_where_in(RetentionListEntry, "id",
                                [pk for contact_id, pk in existing.items() if contact_id not in wanted])
    now = timezone.now()
    RetentionListEntry.objects.bulk_create(
        [RetentionListEntry(contact_id=contact_id, churn_risk=risk, reasons=reasons, added_at=now)
         for contact_id, (risk, reasons) in wanted.items() if contact_id not in existing], batch_size=5000)
    bulk_writes.update_rows(RetentionListEntry, ("id", "churn_risk", "reasons"),
                            [(existing[contact_id], risk, reasons) for contact_id, (risk, reasons) in wanted.items()
                             if contact_id in existing])
    return set(wanted)


def previous_segment_id() -> int | None:
    for parameters in (ScoringRun.objects.filter(kind=ScoringKind.CHURN).order_by("-started_at", "-id")
                       .values_list("parameters", flat=True)[:50]):
        if (parameters or {}).get("retention_segment_id"):
            return parameters["retention_segment_id"]
    return None


def _refresh_retention_segment(contact_ids: list[int], segment_id: int | None) -> int | None:
    """Mirror the retention list into a static marketing segment, so that retention campaigns
    and outbound call lists can target it. Without the marketing domain, or without an
    administrator to own the segment, the in-app list is the only one."""
    if not apps.is_installed("guanxi.marketing"):
        return None
    owner = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    if owner is None:
        return None
    from guanxi.marketing.models import Segment, SegmentMember
    from guanxi.marketing.services import segments as segment_services

    segment = Segment.objects.filter(pk=segment_id).first() if segment_id else None
    if segment is None:
        segment = segment_services.segment_create(actor=owner, data={
            "name": _("Retention: high churn risk"), "kind": "static",
            "description": _("Customers whose churn risk is at or above %(threshold)s; refreshed daily by the "
                             "churn scoring.") % {"threshold": retention_threshold()}})
    current = set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))
    wanted = set(contact_ids)
    if wanted - current:
        segment_services.segment_add_members(actor=owner, segment_id=segment.pk, contact_ids=sorted(wanted - current))
    if current - wanted:
        segment_services.segment_remove_members(actor=owner, segment_id=segment.pk,
                                                contact_ids=sorted(current - wanted))
    return segment.pk


def feature_label(name: str) -> str:
    return str(FEATURES.get(name, name))
