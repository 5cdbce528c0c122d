"""REST routes of the marketing domain, mounted at /api/v1/marketing.

Each route parses its input, calls one selector or service (which carry the access checks
and validation) and serializes the answer. Errors map to HTTP in ``guanxi.api``.
"""


import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.marketing import selectors, services
from guanxi.marketing.models import MessageTemplate, Segment, SegmentKind, TemplateChannel

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
