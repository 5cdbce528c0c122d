"""REST routes of forecasts and sales reports (all computed in grouped SQL)."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, ModelSchema, Query, Router, Schema
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, ApiListPagination
from guanxi.sales import forecasting, selectors
from guanxi.sales.api.refs import AccountRef, StageRef, UserRef
from guanxi.sales.models import Opportunity

router = Router(tags=["forecasts and reports"])
Grouping = Literal["owner", "team", "territory"]


class ForecastRowOut(Schema):
    period: str = Field(description="2026-03 (month) or 2026-Q1 (quarter) of the close date.")
    group_id: int | None = Field(description="Rep, team or territory; null for the whole company.")
    group: str
    open_count: int
    pipeline: Decimal = Field(description="Open deals not omitted, in the base currency.")
    weighted: Decimal = Field(description="Σ amount × probability of those deals.")
    commit: Decimal
    best_case: Decimal = Field(description="Commit plus best case.")
    won: Decimal = Field(description="Closed won in the period.")
    won_count: int
    lost_count: int


class ForecastQueryIn(Schema):
    period: Literal["month", "quarter"] = "month"
    group_by: Grouping | None = None
    start: datetime.date | None = Field(None, description="Close dates from this day.")
    end: datetime.date | None = Field(None, description="Close dates up to this day.")
    pipeline_id: int | None = None
    owner_id: int | None = None


@router.get("/forecast", response={200: list[ForecastRowOut], **READ_ERRORS}, summary="Forecast by period",
            description="Weighted pipeline, commit and best case by month or quarter, per rep, team or territory, "
                        "over the deals you may see.")
def forecast(request, filters: Query[ForecastQueryIn]):
    return forecasting.forecast(request.auth, forecasting.ForecastQuery(**filters.dict()))


class WinRateOut(Schema):
    group_id: int | None
    group: str
    closed: int
    won: int
    win_rate: float | None
    won_value: Decimal
    value_win_rate: float | None


@router.get("/win-rates", response={200: list[WinRateOut], **READ_ERRORS}, summary="Historical win rates")
def win_rates(request, group_by: Grouping | None = None, start: datetime.date | None = None,
              end: datetime.date | None = None):
    return forecasting.win_rates(request.auth, group_by=group_by, start=start, end=end)


class ConversionOut(Schema):
    stage_id: int
    stage: str
    position: int
    reached: int = Field(description="Deals that reached this stage or a later one.")
    advanced: int = Field(description="Of those, deals that went further.")
    won: int
    conversion: float | None
    win_rate_from_here: float | None


@router.get("/pipelines/{pipeline_id}/conversion", response={200: list[ConversionOut], **READ_ERRORS},
            summary="Stage conversion rates")
def stage_conversion(request, pipeline_id: int):
    return forecasting.stage_conversion(request.auth, selectors.access_pipeline_by_id(request.auth, pipeline_id))


class DealOut(ModelSchema):
    stage: StageRef
    owner: UserRef | None
    account: AccountRef | None
    days_left: int
    days_in_stage: int
    moves: int = Field(description="Stage changes so far.")
    last_move: datetime.datetime | None
    weighted_amount: Decimal

    class Meta:
        model = Opportunity
        fields = ["id", "name", "amount", "currency", "amount_base", "probability", "forecast_category",
                  "close_date", "next_step"]


@router.get("/deal-report", response={200: list[DealOut], **READ_ERRORS}, summary="Deal report",
            description="Open deals with stage, days left, probability and how they moved.")
@paginate(ApiListPagination)
def deal_report(request, owner_id: int | None = None, pipeline_id: int | None = None,
                closing_within_days: int | None = None):
    return forecasting.deal_report(request.auth, owner_id=owner_id, pipeline_id=pipeline_id,
                                   closing_within_days=closing_within_days)


class AttainmentOut(Schema):
    quota_id: int
    user_id: int
    user: str
    period: str
    period_start: datetime.date
    period_end: datetime.date
    target: Decimal = Field(description="In the base currency.")
    actual: Decimal = Field(description="Won in the period, in the base currency.")
    attainment: float | None


@router.get("/quota-attainment", response={200: list[AttainmentOut], **READ_ERRORS}, summary="Quotas vs actuals",
            description="Quotas whose period covers `on` (default today).")
def quota_attainment(request, on: datetime.date | None = None, user_id: int | None = None):
    return forecasting.quota_attainment(request.auth, on=on, user_id=user_id)
