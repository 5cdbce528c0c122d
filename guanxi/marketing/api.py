"""REST routes of the marketing domain, mounted at /api/v1/marketing.

Each route parses its input, calls one selector or service (which carry the access checks
and validation) and serializes the answer. Errors map to HTTP in ``guanxi.api``.
"""


import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from ninja import Field, File, Form, ModelSchema, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from guanxi.core.access import can
from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.marketing import selectors, services
from guanxi.marketing import reports
from guanxi.marketing.models import (
    AbMetric, AbTest, Event, EventRegistration, Material, MaterialVersion, RegistrationStatus, CallListEntry, CallListStatus, Campaign, CampaignChannel, CampaignRecipient, CampaignResponse,
    CampaignStatus, MessageTemplate, RecipientState, ResponseKind, Segment, SegmentKind, TemplateChannel,
)

router = Router(tags=["marketing"])


class UserRef(Schema):
    id: int
    username: str = Field(description="Login name.")


class ContactRef(Schema):
    id: int
    full_name: str
    email: str


# ======================================================================================
# Segments
# ======================================================================================
RULES_DESCRIPTION = ("Nested groups as JSON: `{\"type\": \"group\", \"match\": \"all\"|\"any\"|\"none\", \"rules\": "
                     "[...]}` with conditions such as `{\"type\": \"field\", \"field\": \"value_tier\", \"operator\": "
                     "\"in\", \"value\": [\"gold\"]}`, `custom_field`, `tag`, `interaction`, `campaign_response`, "
                     "`event_registration` and `purchase`. Errors are keyed by the rule's position, e.g. "
                     "`rules.0.2`.")


class SegmentOut(ModelSchema):
    owner: UserRef | None = Field(description="User responsible for the segment.")
    rules: dict[str, Any] = Field(description=RULES_DESCRIPTION)

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "kind", "frozen_from", "frozen_at", "member_count", "counted_at",
                  "version", "created_at", "updated_at"]


class SegmentIn(InputSchema):
    name: str | None = model_field(Segment, "name")
    description: str | None = model_field(Segment, "description")
    kind: SegmentKind | None = Field(None, description="dynamic (default) or static.")
    rules: dict[str, Any] | None = Field(None, description=RULES_DESCRIPTION)
    contact_ids: list[int] | None = Field(None, description="Members of a new static segment.")


class SegmentPatch(InputSchema):
    name: str | None = model_field(Segment, "name")
    description: str | None = model_field(Segment, "description")
    rules: dict[str, Any] | None = Field(None, description=RULES_DESCRIPTION)
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


class RulesIn(InputSchema):
    rules: dict[str, Any] = Field(description=RULES_DESCRIPTION)


class CountOut(Schema):
    count: int = Field(description="Contacts you may see that match.")


class SnapshotIn(InputSchema):
    name: str = Field("", max_length=200, description="Name of the static snapshot; default: the segment's name "
                                                      "and the time.")


class MembersIn(InputSchema):
    contact_ids: list[int] = Field(description="Contacts to add or remove.")


class MembersChangedOut(Schema):
    changed: int = Field(description="Members added or removed.")


@router.get("/segments", response={200: list[SegmentOut], **READ_ERRORS}, summary="List segments")
@paginate(ApiListPagination)
def segment_list(request, q: str = "", kind: SegmentKind | None = None):
    return selectors.segment_list(request.auth, query=q.strip(), kind=kind or "")


@router.post("/segments", response={201: SegmentOut, **WRITE_ERRORS}, summary="Create a segment",
             description="The rules are compiled before anything is stored: a bad rule answers 422 naming it.")
def segment_create(request, payload: SegmentIn):
    return Status(201, services.segment_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.post("/segments/count", response={200: CountOut, **WRITE_ERRORS}, summary="Count contacts matching rules",
             description="The live count of the segment editor; nothing is stored.")
def segment_count(request, payload: RulesIn):
    return {"count": selectors.segment_preview_count(request.auth, payload.rules)}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **READ_ERRORS}, summary="Read a segment")
def segment_detail(request, segment_id: int):
    return selectors.access_segment_by_id(request.auth, segment_id)


@router.patch("/segments/{segment_id}", response={200: SegmentOut, **WRITE_ERRORS}, summary="Change a segment")
def segment_update(request, segment_id: int, payload: SegmentPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.segment_update(actor=request.auth, segment_id=segment_id, data=data, expected_version=version)


@router.delete("/segments/{segment_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a segment",
               description="Refused with 409 while a campaign targets the segment.")
def segment_delete(request, segment_id: int):
    services.segment_delete(actor=request.auth, segment_id=segment_id)
    return Status(204, None)


@router.get("/segments/{segment_id}/members", response={200: list[ContactRef], **READ_ERRORS},
            summary="Contacts in a segment", description="Evaluated now, as one SQL query; only contacts you may see.")
@paginate(ApiListPagination)
def segment_members(request, segment_id: int):
    return selectors.segment_members(request.auth, segment_id)


@router.post("/segments/{segment_id}/snapshot", response={201: SegmentOut, **WRITE_ERRORS},
             summary="Freeze a static snapshot", description="A new static segment with today's members.")
def segment_freeze(request, segment_id: int, payload: SnapshotIn):
    return Status(201, services.segment_freeze(actor=request.auth, segment_id=segment_id, name=payload.name))


@router.post("/segments/{segment_id}/members", response={200: MembersChangedOut, **WRITE_ERRORS},
             summary="Add contacts to a static segment")
def segment_add_members(request, segment_id: int, payload: MembersIn):
    return {"changed": services.segment_add_members(actor=request.auth, segment_id=segment_id,
                                                    contact_ids=payload.contact_ids)}


@router.post("/segments/{segment_id}/members/remove", response={200: MembersChangedOut, **WRITE_ERRORS},
             summary="Remove contacts from a static segment")
def segment_remove_members(request, segment_id: int, payload: MembersIn):
    return {"changed": services.segment_remove_members(actor=request.auth, segment_id=segment_id,
                                                       contact_ids=payload.contact_ids)}


# ======================================================================================
# Message templates (mail merge)
# ======================================================================================
TEMPLATE_SYNTAX = ("Jinja2 syntax in a sandbox: `{{ contact.given_name }}`, `{{ contact.custom.<key> }}`, "
                   "`{% if contact.value_tier == \"gold\" %}…{% endif %}`, `{{ event.starts_at|datetime }}`, "
                   "`{{ unsubscribe_url }}`. Unknown fields are refused with their line.")


class TemplateOut(ModelSchema):
    owner: UserRef | None = Field(description="User responsible for the template.")

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "channel", "subject_en", "body_en", "subject_zh", "body_zh", "version",
                  "created_at", "updated_at"]


class TemplateIn(InputSchema):
    name: str | None = model_field(MessageTemplate, "name")
    channel: TemplateChannel | None = Field(None, description="email (HTML body), sms or letter (plain text).")
    subject_en: str | None = model_field(MessageTemplate, "subject_en")
    body_en: str | None = Field(None, description=f"Message in English. {TEMPLATE_SYNTAX}")
    subject_zh: str | None = model_field(MessageTemplate, "subject_zh")
    body_zh: str | None = Field(None, description="Message in Chinese, same syntax.")


class TemplatePatch(TemplateIn):
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


class PreviewIn(InputSchema):
    contact_id: int = Field(description="Contact to render the template for.")
    language: str = Field("", description="en or zh-hans; default: the contact's preferred language.")
    campaign_id: int | None = Field(None, description="Fill campaign and event fields from this campaign.")


class TestSendIn(PreviewIn):
    to_email: str = Field(description="Where the test message goes (not to the contact).")


class PreviewOut(Schema):
    language: str
    subject: str
    body: str = Field(description="HTML for email, text otherwise.")
    text: str = Field(description="Plain-text version.")
    sms_segments: int = Field(description="SMS parts the text would be billed as.")


@router.get("/templates", response={200: list[TemplateOut], **READ_ERRORS}, summary="List message templates")
@paginate(ApiListPagination)
def template_list(request, q: str = "", channel: TemplateChannel | None = None):
    return selectors.template_list(request.auth, query=q.strip(), channel=channel or "")


@router.post("/templates", response={201: TemplateOut, **WRITE_ERRORS}, summary="Create a message template",
             description="The template is checked before it is stored: syntax errors and unknown fields answer 422 "
                         "with the part (e.g. `body_zh`) and line.")
def template_create(request, payload: TemplateIn):
    return Status(201, services.message_template_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/templates/{template_id}", response={200: TemplateOut, **READ_ERRORS}, summary="Read a template")
def template_detail(request, template_id: int):
    return selectors.access_template_by_id(request.auth, template_id)


@router.patch("/templates/{template_id}", response={200: TemplateOut, **WRITE_ERRORS}, summary="Change a template")
def template_update(request, template_id: int, payload: TemplatePatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.message_template_update(actor=request.auth, template_id=template_id, data=data,
                                            expected_version=version)


@router.delete("/templates/{template_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a template",
               description="Refused with 409 while campaigns use it.")
def template_delete(request, template_id: int):
    services.message_template_delete(actor=request.auth, template_id=template_id)
    return Status(204, None)


def _preview_out(rendered) -> dict:
    return {"language": rendered.language, "subject": rendered.subject, "body": rendered.body,
            "text": rendered.text, "sms_segments": rendered.sms_segments}


@router.post("/templates/{template_id}/preview", response={200: PreviewOut, **WRITE_ERRORS},
             summary="Preview a template for a contact")
def template_preview(request, template_id: int, payload: PreviewIn):
    return _preview_out(services.template_preview(actor=request.auth, template_id=template_id,
                                                  contact_id=payload.contact_id, language=payload.language,
                                                  campaign_id=payload.campaign_id))


@router.post("/templates/{template_id}/test-send", response={200: PreviewOut, **WRITE_ERRORS},
             summary="Send a test message", description="Rendered for the contact, sent to `to_email` with the "
                                                       "subject marked [Test].")
def template_test_send(request, template_id: int, payload: TestSendIn):
    return _preview_out(services.template_test_send(
        actor=request.auth, template_id=template_id, contact_id=payload.contact_id, to_email=payload.to_email,
        language=payload.language, campaign_id=payload.campaign_id))


# ======================================================================================
# Campaigns
# ======================================================================================
class NamedRef(Schema):
    id: int
    name: str


class CampaignOut(ModelSchema):
    owner: UserRef | None = Field(description="User responsible for the campaign.")
    segment: NamedRef | None = Field(description="Target segment.")
    template: NamedRef | None = Field(description="Message template.")
    event: NamedRef | None = Field(description="Event the campaign promotes.")
    material_ids: list[int] = Field(description="Materials used by the campaign.")

    class Meta:
        model = Campaign
        fields = ["id", "name", "description", "channel", "status", "landing_url", "currency", "budget",
                  "planned_cost", "actual_cost", "expected_revenue", "scheduled_at", "ends_at", "launched_at",
                  "completed_at", "audience_count", "excluded_count", "send_job_id", "version", "created_at",
                  "updated_at"]

    @staticmethod
    def resolve_material_ids(campaign) -> list[int]:
        return sorted(material.pk for material in campaign.materials.all())


class CampaignIn(InputSchema):
    name: str | None = model_field(Campaign, "name")
    description: str | None = model_field(Campaign, "description")
    channel: CampaignChannel | None = Field(None, description="email, sms, phone, direct_mail, event or web.")
    segment_id: int | None = Field(None, description="Target segment.")
    template_id: int | None = Field(None, description="Message template: email for email and event campaigns, sms "
                                                      "for SMS, letter for direct mail.")
    event_id: int | None = Field(None, description="Event the campaign promotes.")
    landing_url: str | None = model_field(Campaign, "landing_url")
    material_ids: list[int] | None = Field(None, description="Materials used by the campaign (replaces the list).")
    currency: str | None = model_field(Campaign, "currency")
    budget: Decimal | None = model_field(Campaign, "budget", ge=0)
    planned_cost: Decimal | None = model_field(Campaign, "planned_cost", ge=0)
    actual_cost: Decimal | None = model_field(Campaign, "actual_cost", ge=0)
    expected_revenue: Decimal | None = model_field(Campaign, "expected_revenue", ge=0)
    scheduled_at: datetime.datetime | None = model_field(Campaign, "scheduled_at")
    ends_at: datetime.datetime | None = model_field(Campaign, "ends_at")


class CampaignPatch(CampaignIn):
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


class CostIn(InputSchema):
    amount: Decimal = Field(gt=0, description="Money spent, in the campaign's currency.")
    note: str = Field("", max_length=200, description="What it was for.")


class RecipientOut(ModelSchema):
    contact: ContactRef

    class Meta:
        model = CampaignRecipient
        fields = ["id", "address", "language", "variant", "state", "attempts", "next_attempt_at", "last_error",
                  "message_id", "handed_off_at", "sent_at", "opened_at", "clicked_at"]


class ResponseOut(ModelSchema):
    contact: ContactRef | None

    class Meta:
        model = CampaignResponse
        fields = ["id", "kind", "detail", "occurred_at", "interaction"]


class ResponseIn(InputSchema):
    contact_id: int = Field(description="Who responded.")
    kind: ResponseKind = Field(description="What they did, e.g. replied or called.")
    detail: str = Field("", max_length=500, description="Notes, link, page.")
    occurred_at: datetime.datetime | None = Field(None, description="When; default now.")


class RoiOut(Schema):
    id: int
    name: str
    channel: str
    status: str
    currency: str
    budget: Decimal
    cost: Decimal = Field(description="Actual cost, or the planned cost while nothing is booked.")
    cost_is_planned: bool
    reached: int = Field(description="Messages sent (or people put on the call list).")
    responders: int = Field(description="People who responded (opened, clicked, replied, registered…).")
    opened: int
    clicked: int
    registered: int
    unsubscribed: int
    leads: int = Field(description="Sales leads whose source is the campaign.")
    opportunities: int = Field(description="Opportunities whose source is the campaign.")
    won: int = Field(description="Of those, won.")
    won_revenue: Decimal = Field(description="Amount of the won opportunities, in the base currency.")
    response_rate: float | None
    cost_per_response: Decimal | None
    cost_per_lead: Decimal | None
    roi: float | None = Field(description="(won revenue − cost) / cost.")


class CallListEntryOut(ModelSchema):
    contact: ContactRef

    class Meta:
        model = CallListEntry
        fields = ["id", "phone", "priority", "status", "attempts", "disposition", "callback_at", "created_at"]


class CallListEntryPatch(InputSchema):
    status: CallListStatus = Field(description="done, callback or removed.")
    disposition: str = Field("", max_length=120, description="Result of the call.")
    callback_at: datetime.datetime | None = Field(None, description="When to call back.")


class AbTestIn(InputSchema):
    metric: AbMetric | None = Field(None, description="open or click: the rate that decides.")
    sample_percent: int | None = Field(None, ge=2, le=100, description="Share of the audience in the test.")
    subject_b: str | None = model_field(AbTest, "subject_b")
    template_b_id: int | None = Field(None, description="Alternative content.")
    decide_after_hours: int | None = Field(None, ge=0, description="Hours the sample has to respond.")


class AbTestOut(ModelSchema):
    class Meta:
        model = AbTest
        fields = ["id", "metric", "sample_percent", "subject_b", "template_b", "decide_after_hours", "state",
                  "winner", "results", "decided_at"]


class StateCountsOut(Schema):
    recipients: dict[str, int] = Field(description="Recipients by state.")
    responses: dict[str, int] = Field(description="People by kind of response.")


def _campaign(request, campaign_id: int) -> Campaign:
    return selectors.access_campaign_by_id(request.auth, campaign_id)


@router.get("/campaigns", response={200: list[CampaignOut], **READ_ERRORS}, summary="List campaigns")
@paginate(ApiListPagination)
def campaign_list(request, q: str = "", status: CampaignStatus | None = None, channel: CampaignChannel | None = None):
    return selectors.campaign_list(request.auth, query=q.strip(), status=status or "", channel=channel or "") \
        .prefetch_related("materials")


@router.post("/campaigns", response={201: CampaignOut, **WRITE_ERRORS}, summary="Create a campaign")
def campaign_create(request, payload: CampaignIn):
    return Status(201, services.campaign_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/campaigns/roi", response={200: list[RoiOut], **READ_ERRORS}, summary="ROI of campaigns",
            description="Cost, reach, responses, leads, opportunities and won revenue per campaign, computed with "
                        "SQL aggregates.")
def campaign_roi_report(request, status: CampaignStatus | None = None, channel: CampaignChannel | None = None):
    rows = reports.roi_report(selectors.campaign_list(request.auth, status=status or "", channel=channel or ""))
    return [{**row, "id": row["campaign"].pk, "name": row["campaign"].name, "channel": row["campaign"].channel,
             "status": row["campaign"].status} for row in rows]


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **READ_ERRORS}, summary="Read a campaign")
def campaign_detail(request, campaign_id: int):
    return _campaign(request, campaign_id)


@router.patch("/campaigns/{campaign_id}", response={200: CampaignOut, **WRITE_ERRORS}, summary="Change a campaign",
              description="Channel, segment and template are fixed once launched.")
def campaign_update(request, campaign_id: int, payload: CampaignPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.campaign_update(actor=request.auth, campaign_id=campaign_id, data=data, expected_version=version)


@router.delete("/campaigns/{campaign_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a campaign",
               description="Only drafts, or cancelled campaigns that sent nothing.")
def campaign_delete(request, campaign_id: int):
    services.campaign_delete(actor=request.auth, campaign_id=campaign_id)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/launch", response={200: CampaignOut, **WRITE_ERRORS},
             summary="Launch a campaign",
             description="Checks the template (every branch, unknown fields named) and the segment's rules, freezes "
                         "the reachable audience and starts sending as a background job — now or at `scheduled_at`. "
                         "Any problem answers 422 and nothing is sent.")
def campaign_launch(request, campaign_id: int):
    return services.campaign_launch(actor=request.auth, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/cancel", response={200: CampaignOut, **WRITE_ERRORS},
             summary="Cancel a campaign", description="Messages not yet handed to the server are never sent.")
def campaign_cancel(request, campaign_id: int):
    return services.campaign_cancel(actor=request.auth, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/complete", response={200: CampaignOut, **WRITE_ERRORS},
             summary="Complete a running campaign")
def campaign_complete(request, campaign_id: int):
    return services.campaign_complete(actor=request.auth, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/costs", response={200: CampaignOut, **WRITE_ERRORS},
             summary="Book a cost", description="Adds to the actual cost.")
def campaign_add_cost(request, campaign_id: int, payload: CostIn):
    return services.campaign_add_cost(actor=request.auth, campaign_id=campaign_id, amount=payload.amount,
                                      note=payload.note)


@router.get("/campaigns/{campaign_id}/states", response={200: StateCountsOut, **READ_ERRORS},
            summary="Recipients by state and responses by kind")
def campaign_states(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    return {"recipients": selectors.recipient_state_counts(campaign),
            "responses": selectors.response_counts(campaign)}


@router.get("/campaigns/{campaign_id}/roi", response={200: RoiOut, **READ_ERRORS}, summary="ROI of one campaign")
def campaign_roi(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    return {**reports.roi_figures(campaign), "id": campaign.pk, "name": campaign.name, "channel": campaign.channel,
            "status": campaign.status}


@router.get("/campaigns/{campaign_id}/recipients", response={200: list[RecipientOut], **READ_ERRORS},
            summary="Recipients and what became of each",
            description="Filter by state, e.g. `failed` (with the server's answer) or `unconfirmed` (interrupted "
                        "during hand-off and, by the at-most-once rule, not resent).")
@paginate(ApiListPagination)
def campaign_recipients(request, campaign_id: int, state: RecipientState | None = None):
    return selectors.campaign_recipients(request.auth, campaign_id, state=state or "")


@router.get("/campaigns/{campaign_id}/responses", response={200: list[ResponseOut], **READ_ERRORS},
            summary="Responses to a campaign")
@paginate(ApiListPagination)
def campaign_responses(request, campaign_id: int, kind: ResponseKind | None = None):
    return selectors.campaign_responses(request.auth, campaign_id, kind=kind or "")


@router.post("/campaigns/{campaign_id}/responses", response={201: ResponseOut, **WRITE_ERRORS},
             summary="Record a response", description="E.g. a reply or a call; recorded once per person and kind, "
                                                      "and put on the contact's timeline.")
def campaign_response_create(request, campaign_id: int, payload: ResponseIn):
    return Status(201, services.campaign_response_record(
        actor=request.auth, campaign_id=campaign_id, contact_id=payload.contact_id, kind=payload.kind,
        detail=payload.detail, occurred_at=payload.occurred_at))


@router.get("/campaigns/{campaign_id}/call-list", response={200: list[CallListEntryOut], **READ_ERRORS},
            summary="Call list of a phone campaign", description="Best customers first.")
@paginate(ApiListPagination)
def campaign_call_list(request, campaign_id: int, status: CallListStatus | None = None):
    return selectors.campaign_call_list(request.auth, campaign_id, status=status or "")


@router.patch("/campaigns/{campaign_id}/call-list/{entry_id}", response={200: CallListEntryOut, **WRITE_ERRORS},
              summary="Report a call")
def campaign_call_list_update(request, campaign_id: int, entry_id: int, payload: CallListEntryPatch):
    return services.call_list_entry_update(actor=request.auth, campaign_id=campaign_id, entry_id=entry_id,
                                           status=payload.status, disposition=payload.disposition,
                                           callback_at=payload.callback_at)


@router.put("/campaigns/{campaign_id}/ab-test", response={200: AbTestOut, **WRITE_ERRORS},
            summary="Set up the A/B test of a draft email campaign")
def campaign_ab_test_set(request, campaign_id: int, payload: AbTestIn):
    return services.ab_test_set(actor=request.auth, campaign_id=campaign_id, data=payload.dict(exclude_unset=True))


@router.get("/campaigns/{campaign_id}/ab-test", response={200: AbTestOut, **READ_ERRORS}, summary="Read the A/B test")
def campaign_ab_test(request, campaign_id: int):
    test = selectors.campaign_ab_test(_campaign(request, campaign_id))
    if test is None:
        raise NotFound("ab test")
    return test


@router.post("/campaigns/{campaign_id}/ab-test/decide", response={200: AbTestOut, **WRITE_ERRORS},
             summary="Choose the A/B winner now", description="Normally done by a job when the test's time is up.")
def campaign_ab_test_decide(request, campaign_id: int):
    return services.ab_test_decide(actor=request.auth, campaign_id=campaign_id)


# ======================================================================================
# Bounces
# ======================================================================================
class BounceIn(InputSchema):
    raw_message: str = Field(description="The whole delivery status notification as received (RFC 3464).")


class BounceOut(Schema):
    email: str
    status: str
    action: str
    diagnostic: str
    is_permanent: bool
    recipient_id: int | None


@router.post("/bounces", response={200: list[BounceOut], **WRITE_ERRORS}, summary="Process a bounce",
             description="A permanent failure (5.x.x) or the third temporary one suppresses the address; the "
                         "campaign recipient is marked bounced.")
def bounce_process(request, payload: BounceIn):
    if not can(request.auth, selectors.CAMPAIGN, "change"):
        raise PermissionDenied("may not process bounces")
    return services.bounce_process(raw_message=payload.raw_message.encode("utf-8"))


# ======================================================================================
# Printing (direct mail)
# ======================================================================================
@router.get("/campaigns/{campaign_id}/print/{kind}", response={200: None, **READ_ERRORS},
            summary="Print a direct-mail campaign",
            description="`letters`, `labels` (Avery L7160, 3 × 7 on A4) or `envelopes` (DL) as PDF. Chinese "
                        "addresses: postcode first, largest unit first, name with 收.")
def campaign_print(request, campaign_id: int, kind: str):
    from guanxi.marketing.views.printing import campaign_pdf

    return campaign_pdf(request.auth, campaign_id, kind)


@router.post("/campaigns/{campaign_id}/posted", response={200: MembersChangedOut, **WRITE_ERRORS},
             summary="Mark a direct-mail campaign as posted")
def campaign_posted(request, campaign_id: int):
    return {"changed": services.campaign_mark_mailed(actor=request.auth, campaign_id=campaign_id)}


# ======================================================================================
# Events
# ======================================================================================
class EventOut(ModelSchema):
    owner: UserRef | None
    registered: int = Field(description="Seats taken (registered or attended).")
    waitlisted: int
    registration_url: str = Field(description="The public registration form.")

    class Meta:
        model = Event
        fields = ["id", "name", "slug", "description", "starts_at", "ends_at", "venue", "address", "capacity",
                  "registration_open", "reminder_hours", "reminder_template", "created_at"]

    @staticmethod
    def resolve_registered(event) -> int:
        return event.registrations.filter(status__in=["registered", "attended"]).count()

    @staticmethod
    def resolve_waitlisted(event) -> int:
        return event.registrations.filter(status="waitlisted").count()

    @staticmethod
    def resolve_registration_url(event) -> str:
        from guanxi.marketing.tracking import event_registration_url

        return event_registration_url(event)


class EventIn(InputSchema):
    name: str | None = model_field(Event, "name")
    slug: str | None = model_field(Event, "slug")
    description: str | None = model_field(Event, "description")
    starts_at: datetime.datetime | None = model_field(Event, "starts_at")
    ends_at: datetime.datetime | None = model_field(Event, "ends_at")
    venue: str | None = model_field(Event, "venue")
    address: str | None = model_field(Event, "address")
    capacity: int | None = model_field(Event, "capacity", ge=1)
    registration_open: bool | None = model_field(Event, "registration_open")
    reminder_hours: int | None = model_field(Event, "reminder_hours", ge=0)
    reminder_template_id: int | None = Field(None, description="Email template of the reminder.")


class RegistrationOut(ModelSchema):
    contact: ContactRef | None

    class Meta:
        model = EventRegistration
        fields = ["id", "full_name", "email", "phone", "company", "status", "campaign", "lead_id", "registered_at",
                  "reminder_sent_at", "attended_at"]


class AttendanceIn(InputSchema):
    registration_ids: list[int]
    attended: bool = Field(True, description="true: attended; false: did not come.")


class FollowUpIn(InputSchema):
    audience: RegistrationStatus = Field(RegistrationStatus.ATTENDED, description="attended, no_show or registered.")
    template_id: int | None = Field(None, description="Email template of the follow-up.")


@router.get("/events", response={200: list[EventOut], **READ_ERRORS}, summary="List events")
@paginate(ApiListPagination)
def event_list(request):
    return selectors.event_list(request.auth)


@router.post("/events", response={201: EventOut, **WRITE_ERRORS}, summary="Create an event")
def event_create(request, payload: EventIn):
    return Status(201, services.event_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/events/{event_id}", response={200: EventOut, **READ_ERRORS}, summary="Read an event")
def event_detail(request, event_id: int):
    return selectors.access_event_by_id(request.auth, event_id)


@router.patch("/events/{event_id}", response={200: EventOut, **WRITE_ERRORS}, summary="Change an event")
def event_update(request, event_id: int, payload: EventIn):
    return services.event_update(actor=request.auth, event_id=event_id, data=payload.dict(exclude_unset=True))


@router.delete("/events/{event_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an event",
               description="Refused with 409 once people registered.")
def event_delete(request, event_id: int):
    services.event_delete(actor=request.auth, event_id=event_id)
    return Status(204, None)


@router.get("/events/{event_id}/registrations", response={200: list[RegistrationOut], **READ_ERRORS},
            summary="Registrations of an event")
@paginate(ApiListPagination)
def event_registrations(request, event_id: int, status: RegistrationStatus | None = None):
    return selectors.event_registrations(request.auth, event_id, status=status or "")


@router.post("/events/{event_id}/attendance", response={200: MembersChangedOut, **WRITE_ERRORS},
             summary="Record attendance")
def event_attendance(request, event_id: int, payload: AttendanceIn):
    return {"changed": services.registrations_mark_attendance(
        actor=request.auth, event_id=event_id, registration_ids=payload.registration_ids, attended=payload.attended)}


@router.post("/events/{event_id}/registrations/{registration_id}/cancel", response={200: RegistrationOut,
                                                                                   **WRITE_ERRORS},
             summary="Cancel a registration", description="The first on the waiting list gets the seat.")
def registration_cancel(request, event_id: int, registration_id: int):
    registration = services.registration_cancel(actor=request.auth, registration_id=registration_id)
    if registration.event_id != event_id:
        raise NotFound("registration")
    return registration


@router.post("/events/{event_id}/follow-up", response={201: CampaignOut, **WRITE_ERRORS},
             summary="Create the follow-up campaign",
             description="A draft email campaign to the people who attended (or not), frozen into a segment.")
def event_follow_up(request, event_id: int, payload: FollowUpIn):
    return Status(201, services.event_follow_up(actor=request.auth, event_id=event_id, audience=payload.audience,
                                                template_id=payload.template_id))


# ======================================================================================
# Materials
# ======================================================================================
class MaterialVersionOut(ModelSchema):
    class Meta:
        model = MaterialVersion
        fields = ["number", "file_name", "size", "sha256", "note", "uploaded_at"]


class MaterialOut(ModelSchema):
    owner: UserRef | None
    tags: list[str]
    versions: list[MaterialVersionOut]

    class Meta:
        model = Material
        fields = ["id", "title", "description", "language", "current_version", "created_at", "updated_at"]

    @staticmethod
    def resolve_tags(material) -> list[str]:
        return sorted(tag.name for tag in material.tags.all())

    @staticmethod
    def resolve_versions(material) -> list:
        return list(material.versions.order_by("-number"))


class MaterialPatch(InputSchema):
    title: str | None = model_field(Material, "title")
    description: str | None = model_field(Material, "description")
    language: str | None = model_field(Material, "language")
    tags: list[str] | None = Field(None, description="Replaces the tags.")


def _tag_list(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


@router.get("/materials", response={200: list[MaterialOut], **READ_ERRORS}, summary="Search materials",
            description="`q` searches title, description and tags.")
@paginate(ApiListPagination)
def material_list(request, q: str = "", tag: str = ""):
    return selectors.material_list(request.auth, query=q.strip(), tag=tag.strip())


@router.post("/materials", response={201: MaterialOut, **WRITE_ERRORS}, summary="Add a material",
             description="Multipart form: title, description, language, tags (comma-separated), note and file.")
def material_create(request, title: str = Form(...), description: str = Form(""), language: str = Form(""),
                    tags: str = Form(""), note: str = Form(""), file: UploadedFile = File(None)):
    return Status(201, services.material_create(
        actor=request.auth, data={"title": title, "description": description, "language": language,
                                  "tags": _tag_list(tags)}, upload=file, note=note))


@router.get("/materials/{material_id}", response={200: MaterialOut, **READ_ERRORS}, summary="Read a material")
def material_detail(request, material_id: int):
    return selectors.access_material_by_id(request.auth, material_id)


@router.patch("/materials/{material_id}", response={200: MaterialOut, **WRITE_ERRORS}, summary="Change a material")
def material_update(request, material_id: int, payload: MaterialPatch):
    return services.material_update(actor=request.auth, material_id=material_id,
                                    data=payload.dict(exclude_unset=True))


@router.delete("/materials/{material_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a material")
def material_delete(request, material_id: int):
    services.material_delete(actor=request.auth, material_id=material_id)
    return Status(204, None)


@router.post("/materials/{material_id}/versions", response={201: MaterialVersionOut, **WRITE_ERRORS},
             summary="Upload a new version")
def material_add_version(request, material_id: int, note: str = Form(""), file: UploadedFile = File(None)):
    return Status(201, services.material_add_version(actor=request.auth, material_id=material_id, upload=file,
                                                     note=note))


@router.get("/materials/{material_id}/versions/{number}/download", response={200: None, **READ_ERRORS},
            summary="Download a version")
def material_download(request, material_id: int, number: int):
    from guanxi.marketing.views.materials import file_response

    return file_response(services.material_version_for_download(actor=request.auth, material_id=material_id,
                                                                 number=number))
