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
from guanxi.marketing.models import Segment, SegmentKind

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
