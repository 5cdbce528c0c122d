"""REST routes of activities, scheduled callbacks and the iCal feed."""

import datetime

from django.utils import timezone
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.models import Channel
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, ContactRef, UserRef
from guanxi.sales.models import Activity, ActivityKind, ActivityPriority, ActivityStatus

router = Router(tags=["activities"])


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


class ActivityOut(ModelSchema):
    owner: UserRef | None
    account: AccountRef | None
    contact: ContactRef | None
    lead_id: int | None
    opportunity_id: int | None
    quote_id: int | None
    contract_id: int | None
    is_overdue: bool

    class Meta:
        model = Activity
        fields = ["id", "kind", "subject", "description", "channel", "start_at", "end_at", "all_day", "location",
                  "priority", "status", "is_callback", "callback_phone", "reminder_at", "reminder_sent_at",
                  "completed_at", "outcome", "interaction_id", "version", "created_at", "updated_at"]


class ActivityIn(InputSchema):
    kind: ActivityKind | None = None
    subject: str | None = model_field(Activity, "subject")
    description: str | None = None
    channel: Channel | None = Field(None, description="How the customer is met; defaults by kind.")
    start_at: datetime.datetime | None = Field(None, description="When it starts or is due (ISO 8601; without an "
                                                                 "offset it is read in the server's time zone).")
    end_at: datetime.datetime | None = None
    all_day: bool | None = None
    location: str | None = model_field(Activity, "location")
    priority: ActivityPriority | None = None
    is_callback: bool | None = Field(None, description="A call promised to the customer at start_at.")
    callback_phone: str | None = Field(None, description="Number to call back; defaults to the contact's or lead's.")
    reminder_at: datetime.datetime | None = Field(None, description="When to remind the owner (callbacks: 5 "
                                                                    "minutes before unless given).")
    account_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    opportunity_id: int | None = None
    quote_id: int | None = None
    contract_id: int | None = None
    owner_id: int | None = Field(None, description="Who does it; defaults to you.")

    @field_validator("start_at", "end_at", "reminder_at")
    @classmethod
    def _times_are_aware(cls, value):
        return _aware(value)


class ActivityPatch(ActivityIn):
    outcome: str | None = Field(None, max_length=300)
    version: int | None = None


class CompleteIn(InputSchema):
    outcome: str = Field("", max_length=300)
    completed_at: datetime.datetime | None = None

    @field_validator("completed_at")
    @classmethod
    def _aware_time(cls, value):
        return _aware(value)


class CancelIn(InputSchema):
    reason: str = Field("", max_length=300)


class ActivityQuery(Schema):
    owner_id: int | None = None
    kind: ActivityKind | None = None
    status: ActivityStatus | None = None
    start: datetime.datetime | None = Field(None, description="From this time on.")
    end: datetime.datetime | None = Field(None, description="Before this time.")
    account_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    opportunity_id: int | None = None
    callbacks: bool = Field(False, description="Only scheduled callbacks.")


@router.get("/activities", response={200: list[ActivityOut], **READ_ERRORS}, summary="List activities",
            description="In time order; `start`/`end` give a calendar window.")
@paginate(ApiListPagination)
def activity_list(request, filters: Query[ActivityQuery]):
    return selectors.activity_list(request.auth, selectors.ActivityFilters(
        owner_id=filters.owner_id, kind=filters.kind or "", status=filters.status or "",
        start=_aware(filters.start), end=_aware(filters.end), account_id=filters.account_id,
        contact_id=filters.contact_id, lead_id=filters.lead_id, opportunity_id=filters.opportunity_id,
        callbacks_only=filters.callbacks))


@router.post("/activities", response={201: ActivityOut, **WRITE_ERRORS}, summary="Plan an activity")
def activity_create(request, payload: ActivityIn):
    return Status(201, services.activity_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/activities/{activity_id}", response={200: ActivityOut, **READ_ERRORS}, summary="Read an activity")
def activity_detail(request, activity_id: int):
    return selectors.access_activity_by_id(request.auth, activity_id)


@router.patch("/activities/{activity_id}", response={200: ActivityOut, **WRITE_ERRORS}, summary="Change an activity")
def activity_update(request, activity_id: int, payload: ActivityPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.activity_update(actor=request.auth, activity_id=activity_id, data=data, expected_version=version)


@router.post("/activities/{activity_id}/complete", response={200: ActivityOut, **WRITE_ERRORS},
             summary="Mark done", description="Also records it on the customer's timeline (once).")
def activity_complete(request, activity_id: int, payload: CompleteIn):
    return services.activity_complete(actor=request.auth, activity_id=activity_id, outcome=payload.outcome,
                                      completed_at=payload.completed_at)


@router.post("/activities/{activity_id}/cancel", response={200: ActivityOut, **WRITE_ERRORS}, summary="Cancel")
def activity_cancel(request, activity_id: int, payload: CancelIn):
    return services.activity_cancel(actor=request.auth, activity_id=activity_id, reason=payload.reason)


@router.delete("/activities/{activity_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an activity")
def activity_delete(request, activity_id: int):
    services.activity_delete(actor=request.auth, activity_id=activity_id)
    return Status(204, None)


class FeedOut(Schema):
    url: str = Field(description="Your secret iCal URL; shown once. Anyone with it can read your calendar.")


@router.post("/calendar-feed", response={201: FeedOut, **WRITE_ERRORS}, summary="Issue your iCal feed URL",
             description="A new URL replaces the old one, which stops working.")
def calendar_feed_issue(request):
    secret = services.calendar_feed_issue(actor=request.auth)
    return Status(201, {"url": request.build_absolute_uri(f"/sales/calendar/{secret}.ics")})


@router.delete("/calendar-feed", response={204: None, **WRITE_ERRORS}, summary="Revoke your iCal feed URL")
def calendar_feed_revoke(request):
    services.calendar_feed_revoke(actor=request.auth)
    return Status(204, None)
