"""REST routes of leads and lead scoring rules."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, File, Form, ModelSchema, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, ContactRef, TerritoryRef, UserRef, client_ip
from guanxi.sales.models import (
    CloseReason, Currency, DisqualifyReason, Lead, LeadBehaviour, LeadBehaviourKind, LeadScoringRule, LeadSource,
    LeadStatus, ScoringOperator, ScoringRuleKind,
)

router = Router(tags=["leads"])


class DuplicateOut(Schema):
    kind: str = Field(description="contact or account.")
    id: int
    name: str = Field(description="Empty when you may not see the record.")
    matched_on: str = Field(description="phone, email or name.")
    visible: bool = Field(description="Whether you may open the record.")


class LeadOut(ModelSchema):
    owner: UserRef | None = Field(description="Rep working the lead.")
    territory: TerritoryRef | None = Field(description="Territory found by the assignment rules.")
    estimated_amount: Decimal | None = Field(description="What the lead might buy for, as a decimal string.")
    converted_account: AccountRef | None = Field(description="Account made on conversion.")
    converted_contact: ContactRef | None = Field(description="Contact made on conversion.")
    converted_opportunity_id: int | None = Field(description="Opportunity opened on conversion.")

    class Meta:
        model = Lead
        fields = ["id", "family_name", "given_name", "full_name", "company", "job_title", "email", "phone", "industry",
                  "country", "province", "city", "postcode", "source", "campaign_id", "campaign_name", "external_id",
                  "status", "score", "currency", "disqualify_reason", "status_note", "description",
                  "converted_at", "version", "created_at", "updated_at"]


class LeadDetailOut(LeadOut):
    duplicates: list[DuplicateOut] = Field(description="Existing contacts and accounts the lead seems to be.")


class LeadIn(InputSchema):
    family_name: str | None = model_field(Lead, "family_name")
    given_name: str | None = model_field(Lead, "given_name")
    full_name: str | None = model_field(Lead, "full_name")
    company: str | None = model_field(Lead, "company")
    job_title: str | None = model_field(Lead, "job_title")
    email: str | None = Field(None, description="Email address; this or a phone is required.")
    phone: str | None = Field(None, description="Phone in any common format; stored in E.164.")
    industry: str | None = model_field(Lead, "industry")
    country: str | None = model_field(Lead, "country")
    province: str | None = model_field(Lead, "province")
    city: str | None = model_field(Lead, "city")
    postcode: str | None = model_field(Lead, "postcode")
    source: LeadSource | None = Field(None, description="How the lead reached us.")
    campaign_id: int | None = model_field(Lead, "campaign_id")
    campaign_name: str | None = model_field(Lead, "campaign_name")
    external_id: str | None = model_field(Lead, "external_id")
    estimated_amount: Decimal | None = Field(None, ge=0, description="What the lead might buy for.")
    currency: Currency | None = Field(None, description="Currency of the estimated amount.")
    description: str | None = model_field(Lead, "description")
    owner_id: int | None = Field(None, description="Rep to work the lead; defaults to you.")
    territory_id: int | None = Field(None, description="Territory; defaults to the owner's.")


class LeadCreateIn(LeadIn):
    auto_assign: bool = Field(False, description="Let the assignment rules (territory, then round-robin) choose "
                                                 "the owner instead of you.")


class LeadPatch(LeadIn):
    status: Literal["new", "working"] | None = Field(None, description="Back to new or working; use qualify, "
                                                                        "disqualify and convert for the rest.")
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


class LeadQuery(Schema):
    q: str = Field("", description="Name, company, email, phone or campaign contains this.")
    status: LeadStatus | None = None
    source: LeadSource | None = None
    owner_id: int | None = None
    territory_id: int | None = None
    min_score: int | None = Field(None, description="Only leads scoring at least this.")
    open: bool = Field(False, description="Only new, working and qualified leads.")
    sort: Literal[tuple(selectors.LEAD_SORTS)] = Field("-created", description="created, score or name; a "  # type: ignore[valid-type]
                                                                              "leading - reverses.")


@router.get("/leads", response={200: list[LeadOut], **READ_ERRORS}, summary="List leads")
@paginate(ApiListPagination)
def lead_list(request, filters: Query[LeadQuery]):
    return selectors.lead_list(request.auth, selectors.LeadFilters(
        query=filters.q, status=filters.status or "", source=filters.source or "", owner_id=filters.owner_id,
        territory_id=filters.territory_id, min_score=filters.min_score, open_only=filters.open), filters.sort)


def _detail(request, lead: Lead) -> dict:
    lead = selectors.access_lead_by_id(request.auth, lead.pk)
    data = LeadOut.from_orm(lead).dict()
    data["duplicates"] = [match.__dict__ for match in selectors.lead_duplicates(request.auth, lead)] \
        if lead.is_open else []
    return data


@router.post("/leads", response={201: LeadDetailOut, **WRITE_ERRORS}, summary="Create a lead",
             description="The answer lists existing contacts and accounts the lead seems to be (duplicates).")
def lead_create(request, payload: LeadCreateIn):
    data = payload.dict(exclude_unset=True)
    auto_assign = data.pop("auto_assign", False)
    lead = services.lead_create(actor=request.auth, data=data, auto_assign=auto_assign,
                                ip_address=client_ip(request))
    return Status(201, _detail(request, lead))


class ImportIssueOut(Schema):
    file: str
    row: int = Field(description="Row in the file; the header is row 1.")
    column: str
    message: str
    value: str


class ImportOut(Schema):
    rows: int
    created: int
    updated: int
    dry_run: bool
    issues: list[ImportIssueOut] = Field(description="Problems found; when there are any, nothing was imported.")


@router.post("/leads/import", response={**WRITE_ERRORS, 200: ImportOut, 422: ImportOut}, summary="Import leads",
             description="A CSV or XLSX file; columns are recognised by name (English or Chinese). Every row is "
                         "checked first: any problem answers 422 with the row and column of each, and nothing is "
                         "imported. `dry_run` checks without importing. Rows with a known external ID update "
                         "that lead.")
def lead_import(request, file: File[UploadedFile], dry_run: bool = Form(False), auto_assign: bool = Form(False),
                campaign: str = Form("", max_length=200)):
    import tempfile
    from pathlib import Path

    from guanxi.core.importing import ImportFileError
    from guanxi.sales.lead_import import import_leads

    suffix = Path(file.name or "leads.csv").suffix.lower() or ".csv"
    with tempfile.NamedTemporaryFile(suffix=suffix) as stored:
        for chunk in file.chunks():
            stored.write(chunk)
        stored.flush()
        try:
            result = import_leads(actor=request.auth, path=stored.name, dry_run=dry_run, auto_assign=auto_assign,
                                  campaign_name=campaign, file_label=file.name)
        except ImportFileError as error:
            return Status(422, {"rows": 0, "created": 0, "updated": 0, "dry_run": dry_run,
                                "issues": [issue.as_dict() for issue in error.issues]})
    body = {"rows": result.rows, "created": result.created, "updated": result.updated, "dry_run": dry_run,
            "issues": [issue.as_dict() for issue in result.issues]}
    return Status(422 if result.issues else 200, body)


@router.get("/leads/{lead_id}", response={200: LeadDetailOut, **READ_ERRORS}, summary="Read a lead")
def lead_detail(request, lead_id: int):
    return _detail(request, selectors.access_lead_by_id(request.auth, lead_id))


@router.patch("/leads/{lead_id}", response={200: LeadDetailOut, **WRITE_ERRORS}, summary="Change a lead")
def lead_update(request, lead_id: int, payload: LeadPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    lead = services.lead_update(actor=request.auth, lead_id=lead_id, data=data, expected_version=version,
                                ip_address=client_ip(request))
    return _detail(request, lead)


@router.delete("/leads/{lead_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a lead")
def lead_delete(request, lead_id: int):
    services.lead_delete(actor=request.auth, lead_id=lead_id, ip_address=client_ip(request))
    return Status(204, None)


@router.post("/leads/{lead_id}/assign", response={200: LeadOut, **WRITE_ERRORS}, summary="Assign by the rules",
             description="Territory rules first, then round-robin among the reps covering the territory.")
def lead_assign(request, lead_id: int):
    return services.lead_assign(actor=request.auth, lead_id=lead_id)


class QualifyIn(InputSchema):
    note: str = Field("", max_length=500, description="What makes the lead qualified.")


class DisqualifyIn(InputSchema):
    reason: DisqualifyReason = Field(description="Why the lead is dropped.")
    note: str = Field("", max_length=500, description="More detail; required when the reason is other.")


@router.post("/leads/{lead_id}/qualify", response={200: LeadOut, **WRITE_ERRORS}, summary="Qualify a lead")
def lead_qualify(request, lead_id: int, payload: QualifyIn):
    return services.lead_qualify(actor=request.auth, lead_id=lead_id, note=payload.note)


@router.post("/leads/{lead_id}/disqualify", response={200: LeadOut, **WRITE_ERRORS}, summary="Disqualify a lead")
def lead_disqualify(request, lead_id: int, payload: DisqualifyIn):
    return services.lead_disqualify(actor=request.auth, lead_id=lead_id, reason=payload.reason, note=payload.note)


class ConversionOpportunityIn(InputSchema):
    name: str | None = Field(None, max_length=200, description="Defaults to the company or the person.")
    amount: Decimal | None = Field(None, ge=0, description="Defaults to the lead's estimated amount.")
    currency: Currency | None = None
    close_date: datetime.date | None = Field(None, description="Defaults to 30 days from today.")
    pipeline_id: int | None = None
    stage_id: int | None = None
    close_reason: CloseReason | None = None


class ConvertIn(InputSchema):
    account_id: int | None = Field(None, description="Convert into this existing account instead of a new one.")
    contact_id: int | None = Field(None, description="Convert into this existing contact instead of a new one.")
    create_opportunity: bool = Field(True, description="Also open an opportunity.")
    opportunity: ConversionOpportunityIn | None = None
    ignore_duplicates: bool = Field(False, description="Create new records even though the lead matches existing "
                                                       "ones (see duplicates on the lead).")


class ConversionOut(Schema):
    lead: LeadOut
    account: AccountRef | None
    contact: ContactRef
    opportunity_id: int | None


@router.post("/leads/{lead_id}/convert", response={200: ConversionOut, **WRITE_ERRORS}, summary="Convert a lead",
             description="In one step: an account (new or existing), a contact (new or existing) and an opportunity "
                         "keeping the lead's campaign. A lead converted before, a disqualified lead, or a lead "
                         "matching existing records without account_id/contact_id/ignore_duplicates answers 409 "
                         "and nothing is created.")
def lead_convert(request, lead_id: int, payload: ConvertIn):
    conversion = services.lead_convert(
        actor=request.auth, lead_id=lead_id, account_id=payload.account_id, contact_id=payload.contact_id,
        create_opportunity=payload.create_opportunity,
        opportunity=payload.opportunity.dict(exclude_none=True) if payload.opportunity else None,
        ignore_duplicates=payload.ignore_duplicates, ip_address=client_ip(request))
    return {"lead": conversion.lead, "account": conversion.account, "contact": conversion.contact,
            "opportunity_id": conversion.opportunity.pk if conversion.opportunity else None}


class BehaviourIn(InputSchema):
    kind: LeadBehaviourKind = Field(description="What the lead did.")
    detail: str = Field("", max_length=300, description="Page, email or file concerned.")
    occurred_at: datetime.datetime | None = Field(None, description="When; defaults to now.")


class BehaviourOut(ModelSchema):
    score: int = Field(description="The lead's score afterwards.")

    class Meta:
        model = LeadBehaviour
        fields = ["id", "kind", "detail", "occurred_at"]

    @staticmethod
    def resolve_score(behaviour: LeadBehaviour) -> int:
        return Lead.objects.filter(pk=behaviour.lead_id).values_list("score", flat=True).first() or 0


@router.post("/leads/{lead_id}/behaviour", response={201: BehaviourOut, **WRITE_ERRORS},
             summary="Record something the lead did", description="The score is recomputed.")
def lead_behaviour(request, lead_id: int, payload: BehaviourIn):
    return Status(201, services.lead_behaviour_record(actor=request.auth, lead_id=lead_id, kind=payload.kind,
                                                      detail=payload.detail, occurred_at=payload.occurred_at))


# ======================================================================================
# Scoring rules
# ======================================================================================
class ScoringRuleOut(ModelSchema):
    class Meta:
        model = LeadScoringRule
        fields = ["id", "name", "kind", "field_name", "operator", "value", "behaviour_kind", "min_count",
                  "within_days", "points", "is_active", "position"]


class ScoringRuleIn(InputSchema):
    name: str | None = model_field(LeadScoringRule, "name")
    kind: ScoringRuleKind | None = None
    field_name: Literal[LeadScoringRule.SCORABLE_FIELDS] | None = Field(  # type: ignore[valid-type]
        None, description="Lead field a field rule looks at.")
    operator: ScoringOperator | None = None
    value: str | None = model_field(LeadScoringRule, "value")
    behaviour_kind: LeadBehaviourKind | None = None
    min_count: int | None = Field(None, ge=1, description="Times the behaviour must have happened.")
    within_days: int | None = Field(None, ge=1, description="Only behaviour of the last so many days counts.")
    points: int | None = Field(None, description="Added to the score when the rule matches; may be negative.")
    is_active: bool | None = None
    position: int | None = Field(None, ge=0)


@router.get("/scoring-rules", response={200: list[ScoringRuleOut], **READ_ERRORS}, tags=["sales settings"],
            summary="List lead scoring rules")
@paginate(ApiListPagination)
def scoring_rule_list(request):
    return selectors.scoring_rules(request.auth)


@router.post("/scoring-rules", response={201: ScoringRuleOut, **WRITE_ERRORS}, tags=["sales settings"],
             summary="Add a scoring rule", description="Open leads are rescored by a background job.")
def scoring_rule_create(request, payload: ScoringRuleIn):
    return Status(201, services.scoring_rule_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.patch("/scoring-rules/{rule_id}", response={200: ScoringRuleOut, **WRITE_ERRORS}, tags=["sales settings"],
              summary="Change a scoring rule")
def scoring_rule_update(request, rule_id: int, payload: ScoringRuleIn):
    return services.scoring_rule_update(actor=request.auth, rule_id=rule_id, data=payload.dict(exclude_unset=True))


@router.delete("/scoring-rules/{rule_id}", response={204: None, **WRITE_ERRORS}, tags=["sales settings"],
               summary="Remove a scoring rule")
def scoring_rule_delete(request, rule_id: int):
    services.scoring_rule_delete(actor=request.auth, rule_id=rule_id)
    return Status(204, None)
