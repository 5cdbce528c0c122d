"""REST routes of the interaction log: list, record, read, correct and remove interactions
(mounted at /interactions), and the customer timelines of the 360° view (mounted at the
API root, next to the contacts and accounts they belong to)."""


import datetime
from typing import Any

from django.utils import timezone
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.models import Channel
from guanxi.interactions import selectors, services
from guanxi.interactions.models import Direction, Interaction

router = Router(tags=["interactions"])
timeline_router = Router(tags=["timeline"])


class PersonRef(Schema):
    id: int
    username: str = Field(description="Login name.")
    display_name: str = Field(description="Name shown in lists.")

    @staticmethod
    def resolve_display_name(user) -> str:
        return str(user)


class ContactRef(Schema):
    id: int
    full_name: str


class AccountRef(Schema):
    id: int
    name: str


class DocumentIn(InputSchema):
    name: str = Field(max_length=200, description="Document name.")
    url: str = Field("", max_length=500, description="Where the document is kept.")


class InteractionOut(ModelSchema):
    contact: ContactRef | None = Field(description="Person the interaction was with.")
    account: AccountRef | None = Field(description="Customer account.")
    agent: PersonRef | None = Field(description="Employee who handled it.")
    documents: list[dict[str, Any]] = Field(description="Documents created: list of {name, url}.")

    class Meta:
        model = Interaction
        fields = ["id", "direction", "channel", "occurred_at", "duration_seconds", "subject", "reason", "outcome",
                  "effect", "script", "notes", "episode", "source_type", "source_id", "created_at"]


class InteractionIn(InputSchema):
    contact_id: int | None = Field(None, description="Person the interaction was with (this or account_id is "
                                                     "required).")
    account_id: int | None = Field(None, description="Customer account; taken from the contact when empty.")
    channel: Channel = Field(description="phone, email, sms, chat, video, letter, fax, visit, ivr, web or "
                                         "auto_reply.")
    direction: Direction = Field(Direction.INBOUND, description="in or out.")
    occurred_at: datetime.datetime | None = Field(None, description="When it started, ISO 8601; without an offset "
                                                                    "it is read in the server's time zone. "
                                                                    "Defaults to now.")
    duration_seconds: int | None = model_field(Interaction, "duration_seconds", ge=0)
    subject: str | None = model_field(Interaction, "subject")
    reason: str | None = model_field(Interaction, "reason")
    outcome: str | None = model_field(Interaction, "outcome")
    effect: str | None = model_field(Interaction, "effect")
    script: str | None = model_field(Interaction, "script")
    notes: str | None = model_field(Interaction, "notes")
    documents: list[DocumentIn] | None = Field(None, description="Documents created.")
    source_type: str = Field("", max_length=40, description="Object that produced it, e.g. call; with source_id "
                                                            "makes the call idempotent.")
    source_id: str = Field("", max_length=64, description="ID of that object; the same source is recorded once.")

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        if value is not None and timezone.is_naive(value):
            return timezone.make_aware(value)
        return value


class InteractionPatch(InputSchema):
    duration_seconds: int | None = model_field(Interaction, "duration_seconds", ge=0)
    subject: str | None = model_field(Interaction, "subject")
    reason: str | None = model_field(Interaction, "reason")
    outcome: str | None = model_field(Interaction, "outcome")
    effect: str | None = model_field(Interaction, "effect")
    script: str | None = model_field(Interaction, "script")
    notes: str | None = model_field(Interaction, "notes")
    documents: list[DocumentIn] | None = Field(None, description="Replaces the documents.")


class InteractionQuery(Schema):
    channel: Channel | None = Field(None, description="Only this channel.")
    direction: Direction | None = Field(None, description="Only inbound (in) or outbound (out).")
    agent_id: int | None = Field(None, description="Only interactions handled by this user.")
    contact_id: int | None = Field(None, description="Only interactions with this contact.")
    account_id: int | None = Field(None, description="Only interactions recorded on this account.")


@router.get("", response={200: list[InteractionOut], **READ_ERRORS}, summary="List interactions",
            description="Interactions you may see, newest first.")
@paginate(ApiListPagination)
def interaction_list(request, filters: Query[InteractionQuery]):
    return selectors.interaction_list(request.auth, channel=filters.channel or "",
                                      direction=filters.direction or "", agent_id=filters.agent_id,
                                      contact_id=filters.contact_id, account_id=filters.account_id)


@router.post("", response={201: InteractionOut, **WRITE_ERRORS}, summary="Record an interaction",
             description="The same source_type and source_id sent again answer with the interaction already "
                         "recorded (same id) instead of a second one, so a retried call is safe.")
def interaction_record(request, payload: InteractionIn):
    return Status(201, services.interaction_record(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/{interaction_id}", response={200: InteractionOut, **READ_ERRORS}, summary="Read an interaction")
def interaction_detail(request, interaction_id: int):
    return selectors.access_interaction_by_id(request.auth, interaction_id)


@router.patch("/{interaction_id}", response={200: InteractionOut, **WRITE_ERRORS}, summary="Correct an interaction",
              description="Notes, results and documents may be corrected; who, whom, when and how stay as "
                          "recorded.")
def interaction_update(request, interaction_id: int, payload: InteractionPatch):
    return services.interaction_update(actor=request.auth, interaction_id=interaction_id,
                                       data=payload.dict(exclude_unset=True))


@router.delete("/{interaction_id}", response={204: None, **WRITE_ERRORS}, summary="Remove an interaction")
def interaction_delete(request, interaction_id: int):
    services.interaction_delete(actor=request.auth, interaction_id=interaction_id)
    return Status(204, None)


@timeline_router.get("/contacts/{contact_id}/timeline", response={200: list[InteractionOut], **READ_ERRORS},
                     summary="A contact's timeline",
                     description="Every interaction with the contact, newest first. Whoever may read the contact "
                                 "may read its timeline.")
@paginate(ApiListPagination)
def contact_timeline(request, contact_id: int):
    return selectors.contact_timeline_queryset(request.auth, contact_id)


@timeline_router.get("/accounts/{account_id}/timeline", response={200: list[InteractionOut], **READ_ERRORS},
                     summary="An account's timeline",
                     description="Every interaction with the account or any of its contacts, newest first.")
@paginate(ApiListPagination)
def account_timeline(request, account_id: int):
    return selectors.account_timeline_queryset(request.auth, account_id)
