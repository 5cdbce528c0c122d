"""REST routes of pipelines, stages, opportunities and the kanban board."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, CompetitorRef, ContactRef, ProductRef, StageRef, TerritoryRef, UserRef
from guanxi.sales.api.refs import client_ip
from guanxi.sales.models import (
    CloseReason, Currency, ForecastCategory, Opportunity, OpportunityStageChange, Pipeline, Stage, StageKind,
)

router = Router(tags=["opportunities"])


# ======================================================================================
# Pipelines and stages
# ======================================================================================
class StageOut(ModelSchema):
    class Meta:
        model = Stage
        fields = ["id", "name", "name_zh", "position", "probability", "kind", "forecast_category"]


class PipelineOut(ModelSchema):
    stages: list[StageOut]

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "is_active"]

    @staticmethod
    def resolve_stages(pipeline: Pipeline) -> list:
        return sorted(pipeline.stages.all(), key=lambda stage: (stage.position, stage.pk))


class StageIn(InputSchema):
    name: str | None = model_field(Stage, "name")
    name_zh: str | None = model_field(Stage, "name_zh")
    position: int | None = Field(None, ge=0)
    probability: int | None = Field(None, ge=0, le=100, description="Default probability in percent.")
    kind: StageKind | None = None
    forecast_category: ForecastCategory | None = None


class PipelineIn(InputSchema):
    name: str = model_field(Pipeline, "name", ...)
    is_default: bool = False
    stages: list[StageIn] = Field([], description="Stages in order.")


class PipelinePatch(InputSchema):
    name: str | None = model_field(Pipeline, "name")
    is_default: bool | None = None
    is_active: bool | None = None


@router.get("/pipelines", response={200: list[PipelineOut], **READ_ERRORS}, tags=["sales settings"],
            summary="List pipelines with their stages")
@paginate(ApiListPagination)
def pipeline_list(request):
    return selectors.pipelines(request.auth)


@router.post("/pipelines", response={201: PipelineOut, **WRITE_ERRORS}, tags=["sales settings"],
             summary="Create a pipeline")
def pipeline_create(request, payload: PipelineIn):
    pipeline = services.pipeline_create(actor=request.auth, name=payload.name, is_default=payload.is_default,
                                        stages=[stage.dict(exclude_unset=True) for stage in payload.stages])
    return Status(201, pipeline)


@router.patch("/pipelines/{pipeline_id}", response={200: PipelineOut, **WRITE_ERRORS}, tags=["sales settings"],
              summary="Change a pipeline")
def pipeline_update(request, pipeline_id: int, payload: PipelinePatch):
    return services.pipeline_update(actor=request.auth, pipeline_id=pipeline_id, data=payload.dict(exclude_unset=True))


@router.post("/pipelines/{pipeline_id}/stages", response={201: StageOut, **WRITE_ERRORS}, tags=["sales settings"],
             summary="Add a stage")
def stage_create(request, pipeline_id: int, payload: StageIn):
    return Status(201, services.stage_create(actor=request.auth, pipeline_id=pipeline_id,
                                             data=payload.dict(exclude_unset=True)))


@router.patch("/stages/{stage_id}", response={200: StageOut, **WRITE_ERRORS}, tags=["sales settings"],
              summary="Change a stage", description="E.g. its default probability.")
def stage_update(request, stage_id: int, payload: StageIn):
    return services.stage_update(actor=request.auth, stage_id=stage_id, data=payload.dict(exclude_unset=True))


@router.delete("/stages/{stage_id}", response={204: None, **WRITE_ERRORS}, tags=["sales settings"],
               summary="Remove an unused stage")
def stage_delete(request, stage_id: int):
    services.stage_delete(actor=request.auth, stage_id=stage_id)
    return Status(204, None)


# ======================================================================================
# Opportunities
# ======================================================================================
class TeamMemberOut(Schema):
    user: UserRef
    team_role: str


class ProductLineOut(Schema):
    product: ProductRef
    quantity: Decimal
    unit_price: Decimal


class OpportunityOut(ModelSchema):
    account: AccountRef | None
    contact: ContactRef | None
    owner: UserRef | None
    territory: TerritoryRef | None
    stage: StageRef
    pipeline_id: int
    amount: Decimal = Field(description="Expected value, as a decimal string.")
    amount_base: Decimal = Field(description="Amount in the base currency.")
    weighted_amount: Decimal = Field(description="Amount × probability.")
    days_in_stage: int = Field(description="Days since the deal entered its stage.")
    days_left: int = Field(description="Days until the close date (negative when past).")
    lost_to: CompetitorRef | None
    lead_id: int | None

    class Meta:
        model = Opportunity
        fields = ["id", "name", "currency", "probability", "forecast_category", "close_date", "next_step",
                  "description", "stage_entered_at", "is_closed", "is_won", "closed_at", "close_reason",
                  "close_note", "campaign_id", "campaign_name", "version", "created_at", "updated_at"]


class StageChangeOut(ModelSchema):
    from_stage: StageRef | None
    to_stage: StageRef
    changed_by: UserRef | None

    class Meta:
        model = OpportunityStageChange
        fields = ["id", "changed_at", "seconds_in_from_stage", "amount", "probability"]


class TimeInStageOut(Schema):
    stage_id: int
    stage: str
    seconds: int = Field(description="Time spent in the stage, in seconds.")
    current: bool = Field(description="The deal is in this stage now.")


class OpportunityDetailOut(OpportunityOut):
    team: list[TeamMemberOut]
    products: list[ProductLineOut]
    competitors: list[CompetitorRef]
    history: list[StageChangeOut]
    time_in_stages: list[TimeInStageOut]


class TeamMemberIn(InputSchema):
    user_id: int
    team_role: str = Field("", max_length=60)


class ProductLineIn(InputSchema):
    product_id: int
    quantity: Decimal = Field(Decimal("1"), gt=0)
    unit_price: Decimal = Field(Decimal("0"), ge=0)


class OpportunityIn(InputSchema):
    name: str | None = model_field(Opportunity, "name")
    account_id: int | None = None
    contact_id: int | None = None
    pipeline_id: int | None = Field(None, description="Defaults to the default pipeline.")
    stage_id: int | None = Field(None, description="Defaults to the pipeline's first stage. Moving to a closed "
                                                   "stage needs close_reason.")
    amount: Decimal | None = Field(None, ge=0)
    currency: Currency | None = None
    probability: int | None = Field(None, ge=0, le=100, description="Overrides the stage's default.")
    forecast_category: ForecastCategory | None = None
    close_date: datetime.date | None = None
    next_step: str | None = model_field(Opportunity, "next_step")
    description: str | None = model_field(Opportunity, "description")
    close_reason: CloseReason | None = None
    close_note: str | None = Field(None, max_length=500)
    lost_to_id: int | None = Field(None, description="Competitor who won a lost deal.")
    campaign_id: int | None = None
    campaign_name: str | None = model_field(Opportunity, "campaign_name")
    owner_id: int | None = None
    territory_id: int | None = None
    team: list[TeamMemberIn] | None = Field(None, description="Replaces the deal team.")
    products: list[ProductLineIn] | None = Field(None, description="Replaces the products of interest.")
    competitor_ids: list[int] | None = Field(None, description="Replaces the competitors.")


class OpportunityPatch(OpportunityIn):
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


class MoveIn(InputSchema):
    stage_id: int = Field(description="Stage of the deal's pipeline to move to.")
    close_reason: CloseReason | None = Field(None, description="Required for a closed (won or lost) stage.")
    close_note: str = Field("", max_length=500)
    lost_to_id: int | None = None
    probability: int | None = Field(None, ge=0, le=100, description="Defaults to the stage's probability.")
    version: int | None = None


class OpportunityQuery(Schema):
    q: str = ""
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    territory_id: int | None = None
    account_id: int | None = None
    contact_id: int | None = None
    is_closed: bool | None = None
    close_from: datetime.date | None = None
    close_to: datetime.date | None = None
    sort: Literal[tuple(selectors.OPPORTUNITY_SORTS)] = "close"  # type: ignore[valid-type]


def opportunity_detail_data(request, opportunity: Opportunity) -> dict:
    data = OpportunityOut.from_orm(opportunity).dict()
    data["team"] = [{"user": member.user, "team_role": member.team_role}
                    for member in opportunity.team_members.select_related("user")]
    data["products"] = [{"product": line.product, "quantity": line.quantity, "unit_price": line.unit_price}
                        for line in opportunity.product_lines.select_related("product")]
    data["competitors"] = list(opportunity.competitors.all())
    data["history"] = selectors.stage_history(request.auth, opportunity.pk)
    data["time_in_stages"] = selectors.time_in_stages(request.auth, opportunity.pk)
    return data


@router.get("/opportunities", response={200: list[OpportunityOut], **READ_ERRORS}, summary="List opportunities")
@paginate(ApiListPagination)
def opportunity_list(request, filters: Query[OpportunityQuery]):
    values = filters.dict()
    sort = values.pop("sort")
    values["query"] = values.pop("q")
    return selectors.opportunity_list(request.auth, selectors.OpportunityFilters(**values), sort).select_related(
        "territory", "lost_to")


@router.post("/opportunities", response={201: OpportunityDetailOut, **WRITE_ERRORS}, summary="Open an opportunity")
def opportunity_create(request, payload: OpportunityIn):
    opportunity = services.opportunity_create(actor=request.auth, data=payload.dict(exclude_unset=True))
    return Status(201, opportunity_detail_data(request, selectors.access_opportunity_by_id(request.auth,
                                                                                           opportunity.pk)))


@router.get("/opportunities/{opportunity_id}", response={200: OpportunityDetailOut, **READ_ERRORS},
            summary="Read an opportunity", description="With its team, products, competitors, stage history and "
                                                       "time in each stage.")
def opportunity_detail(request, opportunity_id: int):
    return opportunity_detail_data(request, selectors.access_opportunity_by_id(request.auth, opportunity_id))


@router.patch("/opportunities/{opportunity_id}", response={200: OpportunityDetailOut, **WRITE_ERRORS},
              summary="Change an opportunity")
def opportunity_update(request, opportunity_id: int, payload: OpportunityPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    services.opportunity_update(actor=request.auth, opportunity_id=opportunity_id, data=data,
                                expected_version=version, ip_address=client_ip(request))
    return opportunity_detail_data(request, selectors.access_opportunity_by_id(request.auth, opportunity_id))


@router.post("/opportunities/{opportunity_id}/move", response={200: OpportunityOut, **WRITE_ERRORS},
             summary="Move to another stage", description="What the kanban board's drag and drop calls. A closed "
                                                          "stage without close_reason answers 422 and nothing moves.")
def opportunity_move(request, opportunity_id: int, payload: MoveIn):
    services.opportunity_move(actor=request.auth, opportunity_id=opportunity_id, stage_id=payload.stage_id,
                              close_reason=payload.close_reason or "", close_note=payload.close_note,
                              lost_to_id=payload.lost_to_id, probability=payload.probability,
                              expected_version=payload.version)
    return selectors.access_opportunity_by_id(request.auth, opportunity_id)


@router.delete("/opportunities/{opportunity_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an opportunity")
def opportunity_delete(request, opportunity_id: int):
    services.opportunity_delete(actor=request.auth, opportunity_id=opportunity_id, ip_address=client_ip(request))
    return Status(204, None)


class BoardCardOut(Schema):
    id: int
    name: str
    account: AccountRef | None
    owner: UserRef | None
    amount: Decimal
    currency: str
    probability: int
    close_date: datetime.date
    version: int


class BoardColumnOut(Schema):
    stage: StageOut
    count: int = Field(description="Deals in the stage (the column lists at most 50).")
    total: Decimal = Field(description="Amount in the base currency.")
    weighted: Decimal
    opportunities: list[BoardCardOut]


@router.get("/pipelines/{pipeline_id}/board", response={200: list[BoardColumnOut], **READ_ERRORS},
            summary="The kanban board of a pipeline")
def pipeline_board(request, pipeline_id: int, owner_id: int | None = None):
    pipeline = selectors.access_pipeline_by_id(request.auth, pipeline_id)
    return selectors.pipeline_board(request.auth, pipeline, owner_id=owner_id)
