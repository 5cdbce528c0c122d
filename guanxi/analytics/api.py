"""REST routes of the analytics domain (mounted at /analytics): the warehouse, customer
scores, the churn model, built-in analyses, saved reports and dashboards. Each route
parses, calls one service or selector, and serializes."""

from __future__ import annotations

import datetime
from typing import Any

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.analytics.selectors import scores as score_selectors
from guanxi.analytics.selectors.warehouse import warehouse_status
from guanxi.analytics.services import scoring as scoring_services
from guanxi.analytics.services import warehouse as warehouse_services
from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema

router = Router(tags=["analytics"])


# ======================================================================================
# Warehouse
# ======================================================================================
class WarehouseTableOut(Schema):
    name: str
    rows: int = Field(description="Rows in the table.")
    mode: str = Field(description="How the last refresh loaded it: full, incremental or skipped (domain absent).")
    watermark: str | None = Field(description="Highest change stamp loaded.")
    loaded_at: datetime.datetime | None


class WarehouseOut(Schema):
    engine: str = Field(description="duckdb or postgresql.")
    built: bool
    refreshed_at: str | None = Field(description="When the last refresh finished (ISO 8601).")
    tables: list[WarehouseTableOut]


class RefreshIn(InputSchema):
    full: bool = Field(False, description="Rebuild every table instead of reading only what changed.")


class JobRef(Schema):
    id: int
    state: str
    title: str


@router.get("/warehouse", response={200: WarehouseOut, **READ_ERRORS}, summary="Warehouse state")
def warehouse_detail(request):
    status = warehouse_status(request.auth)
    return {"engine": status.engine, "built": status.built, "refreshed_at": status.info.get("refreshed_at"),
            "tables": status.tables}


@router.post("/warehouse/refresh", response={202: JobRef, **WRITE_ERRORS}, summary="Refresh the warehouse",
             description="Starts a background job; follow it at /jobs/{id}.")
def warehouse_refresh(request, payload: RefreshIn):
    job = warehouse_services.warehouse_refresh_enqueue(actor=request.auth, full=payload.full)
    return Status(202, job)


# ======================================================================================
# Customer scores
# ======================================================================================
class TierChangeOut(Schema):
    from_tier: str
    to_tier: str
    rfm_before: int | None
    rfm_after: int | None
    changed_at: datetime.datetime


class ChurnReasonOut(Schema):
    feature: str
    label: str = ""
    value: float | None = None
    effect: float


class CustomerScoresOut(Schema):
    contact_id: int
    last_purchase_on: datetime.date | None
    recency_days: int | None
    frequency: int | None
    monetary: float | None
    r: int | None
    f: int | None
    m: int | None
    rfm: int | None
    value_tier: str
    lifetime_value: float | None
    expected_purchases: float | None
    probability_alive: float | None
    churn_risk: float | None
    churn_reasons: list[ChurnReasonOut]
    tier_history: list[TierChangeOut]
    lifetime_value_message: str = Field("", description="Why there is no lifetime value, when there is none.")


class ScoringRunOut(Schema):
    id: int
    kind: str
    status: str
    reference_date: datetime.date | None
    customers: int
    changed: int
    parameters: dict[str, Any]
    message: str


class ScoringIn(InputSchema):
    reference_date: datetime.date | None = Field(None, description="The day the scores describe; default today.")


@router.get("/customers/{contact_id}/scores", response={200: CustomerScoresOut, **READ_ERRORS},
            summary="A customer's scores",
            description="RFM, value tier and its history, lifetime value and churn risk with reasons.")
def customer_scores(request, contact_id: int):
    from guanxi.analytics.views.churn import labelled_reasons

    found = score_selectors.customer_scores(request.auth, contact_id)
    score = found.score
    message = ""
    if (score is None or score.lifetime_value is None) and found.lifetime_value_run is not None \
            and found.lifetime_value_run.status != "succeeded":
        message = found.lifetime_value_run.message
    return {
        "contact_id": contact_id, "recency_days": found.recency_days,
        **{name: getattr(score, name) if score else None for name in (
            "last_purchase_on", "frequency", "r", "f", "m", "rfm", "expected_purchases", "probability_alive",
            "churn_risk")},
        "monetary": float(score.monetary) if score else None,
        "lifetime_value": float(score.lifetime_value) if score and score.lifetime_value is not None else None,
        "value_tier": score.value_tier if score else "",
        "churn_reasons": labelled_reasons(score.churn_reasons) if score else [],
        "tier_history": found.tier_changes, "lifetime_value_message": message,
    }


@router.post("/scores/rfm", response={200: ScoringRunOut, **WRITE_ERRORS}, summary="Score RFM and value tiers",
             description="Scores every customer from the warehouse and writes tiers back.")
def rfm_compute(request, payload: ScoringIn):
    return scoring_services.rfm_scores_compute(actor=request.auth, reference_date=payload.reference_date)


@router.post("/scores/lifetime-value", response={200: ScoringRunOut, **WRITE_ERRORS},
             summary="Compute lifetime values",
             description="Fits BG/NBD and Gamma-Gamma and writes lifetime values back; with too little "
                         "history the run's status and message say so and nothing is written.")
def lifetime_value_compute(request, payload: ScoringIn):
    return scoring_services.lifetime_values_compute(actor=request.auth, reference_date=payload.reference_date)


# ======================================================================================
# Churn
# ======================================================================================
class ChurnModelOut(Schema):
    id: int
    trained_at: datetime.datetime
    algorithm: str = Field(description="logistic_regression or gradient_boosting, chosen by cross-validation.")
    cross_validation: dict[str, dict[str, float]]
    auc: float = Field(description="ROC AUC on customers held out of training.")
    brier_score: float
    calibration: list[dict[str, float]] = Field(description="Reliability table by risk band.")
    importances: list[tuple[str, float]] = Field(description="Permutation importance of each feature.")
    customers: int
    churn_rate: float
    horizon_days: int
    cutoff_date: datetime.date | None


class ChurnCardOut(Schema):
    model: ChurnModelOut | None
    message: str = Field(description="Why there is no (new) model, when training could not run.")


class RetentionEntryOut(Schema):
    contact_id: int
    full_name: str
    churn_risk: float
    reasons: list[ChurnReasonOut]

    @staticmethod
    def resolve_full_name(entry) -> str:
        return entry.contact.full_name

    @staticmethod
    def resolve_reasons(entry) -> list[dict]:
        from guanxi.analytics.views.churn import labelled_reasons

        return labelled_reasons(entry.reasons)


@router.get("/churn-model", response={200: ChurnCardOut, **READ_ERRORS}, summary="The churn model card")
def churn_model_card(request):
    from guanxi.analytics.selectors.churn import churn_model_card as card_selector

    card = card_selector(request.auth)
    message = card.training_run.message if card.training_run and card.training_run.status != "succeeded" else ""
    return {"model": card.model, "message": message}


@router.post("/churn-model/train", response={202: JobRef, **WRITE_ERRORS}, summary="Train the churn model",
             description="Refreshes the warehouse and trains in a background job.")
def churn_model_train(request):
    from guanxi.analytics.services.churn import churn_model_train_enqueue

    return Status(202, churn_model_train_enqueue(actor=request.auth))


@router.get("/retention-list", response={200: list[RetentionEntryOut], **READ_ERRORS},
            summary="Customers at risk of churning", description="The retention list, riskiest first, with "
                                                               "the reasons; only customers you may see.")
@paginate(ApiListPagination)
def retention_list(request):
    from guanxi.analytics.selectors.churn import retention_list as retention_selector

    return retention_selector(request.auth)


# ======================================================================================
# Built-in analyses
# ======================================================================================
class AnalysisRef(Schema):
    key: str
    section: str
    title: str
    question: str


class ColumnOut(Schema):
    key: str
    label: str
    kind: str = Field(description="text, integer, number, money, percent, date, contact or account.")


class TableOut(Schema):
    title: str
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class AnalysisOut(Schema):
    key: str
    title: str
    question: str
    parameters: dict[str, Any] = Field(description="The parameters used, defaults filled in.")
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]
    kpis: list[tuple[str, str]]
    notes: list[str]
    truncated: bool
    tables: list[TableOut]
    chart: dict[str, Any] | None


def _json_cells(rows: list[dict]) -> list[dict]:
    from guanxi.analytics.charts import _plain

    return [{key: value if isinstance(value, dict) else _plain(value) for key, value in row.items()} for row in rows]


@router.get("/analyses", response={200: list[AnalysisRef], **READ_ERRORS}, summary="List the built-in analyses")
def analysis_list(request):
    from guanxi.analytics.selectors.analyses import analysis_sections

    return [{"key": analysis.key, "section": analysis.section, "title": str(analysis.title),
             "question": str(analysis.question)}
            for _title, analyses in analysis_sections(request.auth) for analysis in analyses]


@router.get("/analyses/{key}", response={200: AnalysisOut, **READ_ERRORS}, summary="Run a built-in analysis",
            description="Parameters are the analysis's form fields as query parameters (e.g. `months=12&by=age`). "
                        "Counts only customers and accounts you may see.")
def analysis_run(request, key: str):
    from guanxi.analytics.selectors.analyses import run_analysis_or_raise

    answer = run_analysis_or_raise(request.auth, key, request.GET)
    result = answer.result
    return {"key": key, "title": str(answer.analysis.title), "question": str(answer.analysis.question),
            "parameters": {name: value if isinstance(value, (int, float, str, type(None))) else str(value)
                           for name, value in answer.form.cleaned_data.items()},
            "columns": [{"key": column.key, "label": str(column.label), "kind": column.kind}
                        for column in result.columns],
            "rows": _json_cells(result.rows), "kpis": [(str(label), str(value)) for label, value in result.kpis],
            "notes": [str(note) for note in result.notes], "truncated": result.truncated,
            "tables": [{"title": str(table.title), "rows": _json_cells(table.rows),
                        "columns": [{"key": column.key, "label": str(column.label), "kind": column.kind}
                                    for column in table.columns]} for table in result.tables],
            "chart": result.chart}


@router.get("/analyses/{key}/export", response={200: None, **READ_ERRORS}, summary="Export an analysis",
            description="`format` is csv, xlsx or pdf; the other query parameters are the analysis's.")
def analysis_export(request, key: str, format: str = "csv"):  # noqa: A002  (the parameter's public name)
    from django.http import HttpResponse

    from guanxi.analytics.services.exports import analysis_export as export_service

    exported = export_service(actor=request.auth, key=key, data=request.GET, export_format=format)
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
    return response


# ======================================================================================
# Reports
# ======================================================================================
class TeamRef(Schema):
    id: int
    name: str


class OwnerRef(Schema):
    id: int
    username: str


class ReportOut(Schema):
    id: int
    name: str
    description: str
    source: str = Field(description="The object counted, e.g. order_lines; see /analytics/report-objects.")
    definition: dict[str, Any] = Field(description="group_by, measures, filters, sort and limit.")
    chart_type: str
    owner: OwnerRef | None
    shared_with_team: TeamRef | None
    on_dashboard: bool
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ReportIn(InputSchema):
    name: str = Field(max_length=200)
    description: str = ""
    source: str
    definition: dict[str, Any]
    chart_type: str = "bar"
    shared_with_team_id: int | None = None
    on_dashboard: bool = False


class ReportPatch(InputSchema):
    name: str | None = Field(None, max_length=200)
    description: str | None = None
    definition: dict[str, Any] | None = None
    chart_type: str | None = None
    shared_with_team_id: int | None = None
    on_dashboard: bool | None = None
    version: int | None = Field(None, description="The version you edited; a newer one answers 409.")


class ReportResultOut(Schema):
    report: ReportOut
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]
    truncated: bool
    scanned: int = Field(description="Rows read to compute the report.")


class ScheduleIn(InputSchema):
    frequency: str = Field("weekly", description="daily, weekly or monthly (sent at 07:00).")
    export_format: str = Field("pdf", description="csv, xlsx or pdf.")
    recipients: list[str] = Field(description="E-mail addresses.")


class ScheduleOut(Schema):
    id: int
    frequency: str
    export_format: str
    recipients: list[str]
    next_run_at: datetime.datetime
    last_run_at: datetime.datetime | None
    last_error: str


def _too_large(error) -> Exception:
    from django.utils.translation import gettext as translate

    from guanxi.core.errors import Conflict

    return Conflict(translate("The report would read %(rows)d rows, more than %(limit)d; narrow its filters or run "
                              "it in the background (POST …/runs).") % {"rows": error.scanned, "limit": error.limit})


@router.get("/report-objects", response={200: list[dict[str, Any]], **READ_ERRORS},
            summary="What reports can count", description="Each object with its groupings, measures (with their "
                                                          "aggregates) and filters (with their operators).")
def report_objects(request):
    from guanxi.analytics import report_builder
    from guanxi.analytics.selectors.reports import visible_reports

    visible_reports(request.auth)  # the right to view reports
    return [{"key": source.key, "label": str(source.label),
             "group_by": [{"key": item.key, "label": str(item.label)} for item in source.dimensions],
             "measures": [{"key": item.key, "label": str(item.label), "aggregates": list(item.aggregates)}
                          for item in source.measures],
             "filters": [{"key": item.key, "label": str(item.label), "type": item.type,
                          "operators": list(report_builder.OPERATORS[item.type])} for item in source.filters]}
            for source in report_builder.available_sources()]


@router.get("/reports", response={200: list[ReportOut], **READ_ERRORS}, summary="List saved reports",
            description="Your reports, those shared with your team, and those your role sees.")
@paginate(ApiListPagination)
def report_list(request, q: str = ""):
    from guanxi.analytics.selectors.reports import report_list as report_list_selector

    return report_list_selector(request.auth, query=q)


@router.post("/reports", response={201: ReportOut, **WRITE_ERRORS}, summary="Save a report")
def report_create(request, payload: ReportIn):
    from guanxi.analytics.services.reports import report_create as create

    return Status(201, create(actor=request.auth, data=payload.dict()))


@router.get("/reports/{report_id}", response={200: ReportResultOut, **WRITE_ERRORS}, summary="Run a saved report",
            description="Counts only the records you may see. A report that would read too much answers 409.")
def report_run(request, report_id: int):
    from guanxi.analytics import report_builder
    from guanxi.analytics.selectors.reports import run_saved_report

    try:
        report, _checked, result = run_saved_report(request.auth, report_id)
    except report_builder.ReportTooLarge as error:
        raise _too_large(error) from error
    return {"report": report, "rows": _json_cells(result.rows), "truncated": result.truncated,
            "scanned": result.scanned,
            "columns": [{"key": column.key, "label": str(column.label), "kind": column.kind}
                        for column in result.columns]}


@router.patch("/reports/{report_id}", response={200: ReportOut, **WRITE_ERRORS}, summary="Change a report",
              description="Also shares it (shared_with_team_id) or stops sharing (null).")
def report_update(request, report_id: int, payload: ReportPatch):
    from guanxi.analytics.services.reports import report_update as update

    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return update(actor=request.auth, report_id=report_id, data=data, expected_version=version)


@router.delete("/reports/{report_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a report")
def report_delete(request, report_id: int):
    from guanxi.analytics.services.reports import report_delete as delete

    delete(actor=request.auth, report_id=report_id)
    return Status(204, None)


@router.get("/reports/{report_id}/export", response={200: None, **WRITE_ERRORS}, summary="Export a report",
            description="`format`: csv, xlsx or pdf. A report too large for a direct answer answers 409; export "
                        "it in the background with POST …/export-jobs.")
def report_export(request, report_id: int, format: str = "csv"):  # noqa: A002
    from django.http import HttpResponse

    from guanxi.analytics import report_builder
    from guanxi.analytics.services.reports import report_export as export

    try:
        exported = export(actor=request.auth, report_id=report_id, export_format=format)
    except report_builder.ReportTooLarge as error:
        raise _too_large(error) from error
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
    return response


class ExportJobIn(InputSchema):
    format: str = Field("csv", description="csv, xlsx or pdf.")


@router.post("/reports/{report_id}/export-jobs", response={202: JobRef, **WRITE_ERRORS},
             summary="Export a report in the background")
def report_export_job(request, report_id: int, payload: ExportJobIn):
    from guanxi.analytics.services.reports import report_export_enqueue

    return Status(202, report_export_enqueue(actor=request.auth, report_id=report_id, export_format=payload.format))


@router.post("/reports/{report_id}/runs", response={202: JobRef, **WRITE_ERRORS},
             summary="Run a report in the background", description="The job's result holds the rows.")
def report_run_job(request, report_id: int):
    from guanxi.analytics.services.reports import report_run_enqueue

    return Status(202, report_run_enqueue(actor=request.auth, report_id=report_id))


@router.post("/reports/{report_id}/schedules", response={201: ScheduleOut, **WRITE_ERRORS},
             summary="E-mail a report on a schedule")
def report_schedule_create(request, report_id: int, payload: ScheduleIn):
    from guanxi.analytics.services.reports import report_schedule_create as create

    return Status(201, create(actor=request.auth, report_id=report_id, data=payload.dict()))


@router.delete("/reports/{report_id}/schedules/{schedule_id}", response={204: None, **WRITE_ERRORS},
               summary="Stop e-mailing a report")
def report_schedule_delete(request, report_id: int, schedule_id: int):
    from guanxi.analytics.services.reports import report_schedule_delete as delete

    delete(actor=request.auth, schedule_id=schedule_id)
    return Status(204, None)


# ======================================================================================
# Dashboard
# ======================================================================================
class WidgetOut(Schema):
    key: str
    title: str
    kpis: list[tuple[str, str]]
    chart: dict[str, Any] | None


class PinnedReportOut(Schema):
    id: int
    name: str
    chart: dict[str, Any] | None
    message: str


class DashboardOut(Schema):
    role: str
    warehouse_missing: bool
    kpis: list[tuple[str, str]]
    widgets: list[WidgetOut]
    reports: list[PinnedReportOut]


@router.get("/dashboard", response={200: DashboardOut, **READ_ERRORS}, summary="Your role's dashboard")
def dashboard(request):
    from guanxi.analytics.selectors.dashboards import dashboard_for

    board = dashboard_for(request.auth)
    return {"role": board.role, "warehouse_missing": board.warehouse_missing,
            "kpis": [(str(label), value) for label, value in board.kpis],
            "widgets": [{"key": widget.key, "title": widget.title, "chart": widget.result.chart,
                         "kpis": [(str(label), str(value)) for label, value in widget.result.kpis]}
                        for widget in board.widgets],
            "reports": [{"id": pinned.report.pk, "name": pinned.report.name, "chart": pinned.chart,
                         "message": str(pinned.message)} for pinned in board.reports]}
