"""REST routes of the service domain, mounted at /api/v1/service.

Each route parses its input, calls one selector or service (which carry the access
checks and validation) and serializes the answer. Errors map to HTTP in ``guanxi.api``.
"""


import base64
import binascii
import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.access import can
from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.errors import PermissionDenied
from guanxi.service import selectors, services
from guanxi.service.models import (
    Case, CaseAttachment, CaseCategory, CaseEvent, CaseMessage, CaseOrigin, CasePriority, CaseStatus,
    InboundEmail, ServiceAgent, ServiceCalendar, ServiceNotification, ServiceQueue,
    SlaPolicy, SlaTrigger,
)

router = Router(tags=["service"])


# ======================================================================================
# Shared pieces
# ======================================================================================
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


class QueueRef(Schema):
    id: int
    code: str
    name: str


class AttachmentIn(InputSchema):
    name: str = Field(max_length=255, description="File name.")
    content_type: str = Field("", max_length=120, description="MIME type, e.g. image/png.")
    content_base64: str = Field(description="The file's bytes, base64-encoded.")


def _files(items: list[AttachmentIn] | None) -> list[services.IncomingFile]:
    files, errors = [], {}
    for index, item in enumerate(items or []):
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            errors[f"attachments.{index}.content_base64"] = ["Not valid base64."]
            continue
        files.append(services.IncomingFile(item.name, item.content_type, content))
    if errors:
        raise ValidationError(errors)
    return files


# ======================================================================================
# Cases
# ======================================================================================
class CaseOut(ModelSchema):
    contact: ContactRef | None = Field(description="Person the case is about.")
    account: AccountRef | None = Field(description="Customer account.")
    assignee: PersonRef | None = Field(description="Agent working on it.")
    queue: QueueRef | None = Field(description="Queue it waits in or was routed through.")
    sla_state: str = Field(description="ok, warning, breached, paused or none (no SLA) — for the resolution "
                                       "target, or the first-response target while no one has replied.")

    class Meta:
        model = Case
        fields = [
            "id", "number", "subject", "description", "status", "priority", "category", "origin", "product",
            "product_ref", "order_ref", "sales_contract_ref", "requester_email", "requester_name", "needs_triage",
            "queued_at", "service_contract", "entitlement", "entitlement_status", "sla_policy",
            "first_response_due_at", "first_responded_at", "resolution_due_at", "first_response_breached",
            "resolution_breached", "escalation_level", "escalated_at", "resolved_at", "closed_at",
            "resolution_note", "reopened_count", "first_contact_resolution", "version", "created_at", "updated_at",
        ]

    @staticmethod
    def resolve_sla_state(case: Case) -> str:
        if case.first_response_breached or case.resolution_breached:
            return "breached"
        if case.sla_policy_id is None:
            return "none"
        if case.first_response_warned or case.resolution_warned:
            return "warning"
        if case.status == CaseStatus.PENDING_CUSTOMER:
            return "paused"
        return "ok"


class CaseIn(InputSchema):
    subject: str = model_field(Case, "subject", ...)
    description: str | None = model_field(Case, "description")
    priority: CasePriority | None = Field(None, description="low, normal, high or urgent (default normal).")
    category: CaseCategory | None = Field(None, description="What the case is about (default other).")
    origin: CaseOrigin | None = Field(None, description="Channel it came through: phone, email, web, chat, visit "
                                                        "or api (default phone).")
    contact_id: int | None = Field(None, description="Person the case is about (this or account_id is required).")
    account_id: int | None = Field(None, description="Customer account; taken from the contact when empty.")
    product: str | None = model_field(Case, "product")
    product_ref: str | None = model_field(Case, "product_ref")
    order_ref: str | None = model_field(Case, "order_ref")
    sales_contract_ref: str | None = model_field(Case, "sales_contract_ref")
    service_contract_id: int | None = Field(None, description="Service contract to charge; found from the "
                                                              "customer's contracts when empty.")
    requester_email: str | None = Field(None, description="Address replies go to; the contact's email when empty.")
    requester_name: str | None = model_field(Case, "requester_name")
    assignee_id: int | None = Field(None, description="Give the case to this agent instead of routing it.")
    queue_id: int | None = Field(None, description="Route through this queue; the queue serving the category "
                                                   "when empty.")
    attachments: list[AttachmentIn] | None = Field(None, description="Files attached to the first message.")


class CasePatch(InputSchema):
    subject: str | None = model_field(Case, "subject")
    priority: CasePriority | None = Field(None, description="A new priority re-selects the SLA policy.")
    category: CaseCategory | None = None
    product: str | None = model_field(Case, "product")
    product_ref: str | None = model_field(Case, "product_ref")
    order_ref: str | None = model_field(Case, "order_ref")
    sales_contract_ref: str | None = model_field(Case, "sales_contract_ref")
    requester_name: str | None = model_field(Case, "requester_name")
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


CaseSort = Literal[tuple(selectors.CASE_SORTS)]  # type: ignore[valid-type]
StatusFilter = Literal[tuple(["open", *CaseStatus.values])]  # type: ignore[valid-type]


class CaseQuery(Schema):
    q: str = Field("", description="Case number, or words of the subject, text, requester or customer.")
    status: StatusFilter | None = Field(None, description="A status, or `open` for every status still needing work.")
    priority: CasePriority | None = None
    category: CaseCategory | None = None
    origin: CaseOrigin | None = None
    assignee_id: int | None = Field(None, description="Only cases assigned to this user.")
    unassigned: bool = Field(False, description="Only cases nobody holds (waiting in a queue).")
    mine: bool = Field(False, description="Only cases assigned to you.")
    queue_id: int | None = None
    contact_id: int | None = None
    account_id: int | None = None
    needs_triage: bool | None = Field(None, description="Only cases from unknown senders (true) or others (false).")
    breached: bool | None = Field(None, description="Only cases that breached an SLA target (true) or not (false).")
    sort: CaseSort = Field("-created", description="created, updated, due, priority or number; - reverses.")

    def to_filters(self) -> selectors.CaseFilters:
        return selectors.CaseFilters(
            query=self.q.strip(), status=self.status or "", priority=self.priority or "",
            category=self.category or "", origin=self.origin or "", assignee_id=self.assignee_id,
            unassigned=self.unassigned, queue_id=self.queue_id, contact_id=self.contact_id,
            account_id=self.account_id, needs_triage=self.needs_triage, breached=self.breached, mine=self.mine)


@router.get("/cases", response={200: list[CaseOut], **READ_ERRORS}, summary="List cases")
@paginate(ApiListPagination)
def case_list(request, filters: Query[CaseQuery]):
    return selectors.case_list(request.auth, filters.to_filters(), filters.sort)


@router.post("/cases", response={201: CaseOut, **WRITE_ERRORS}, summary="Open a case",
             description="Opens a case for a contact or account: numbered, SLA deadlines set, entitlement "
                         "checked, assigned to `assignee_id` or routed through its queue.")
def case_open(request, payload: CaseIn):
    data = payload.dict(exclude_unset=True)
    files = _files(payload.attachments)
    data.pop("attachments", None)
    return Status(201, services.case_open(actor=request.auth, data=data, attachments=files,
                                          ip_address=request.META.get("REMOTE_ADDR")))


@router.get("/cases/{case_id}", response={200: CaseOut, **READ_ERRORS}, summary="Read a case")
def case_detail(request, case_id: int):
    return selectors.access_case_by_id(request.auth, case_id)


@router.patch("/cases/{case_id}", response={200: CaseOut, **WRITE_ERRORS}, summary="Change a case",
              description="Subject, priority, category, product and references. Status, assignment and customer "
                          "have their own routes.")
def case_update(request, case_id: int, payload: CasePatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.case_update(actor=request.auth, case_id=case_id, data=data, expected_version=version)


@router.delete("/cases/{case_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a case")
def case_delete(request, case_id: int):
    services.case_delete(actor=request.auth, case_id=case_id)
    return Status(204, None)


class StatusIn(InputSchema):
    status: CaseStatus = Field(description="new, open, pending_customer, escalated, resolved, closed or reopened; "
                                           "only moves allowed by the status flow are accepted.")
    note: str = Field("", max_length=2000, description="Why; for resolved, how it was solved.")
    version: int | None = Field(None, description="The version you read; a stale one answers 409.")


@router.post("/cases/{case_id}/status", response={200: CaseOut, **WRITE_ERRORS}, summary="Change a case's status")
def case_change_status(request, case_id: int, payload: StatusIn):
    return services.case_change_status(actor=request.auth, case_id=case_id, status=payload.status,
                                       note=payload.note, expected_version=payload.version)


class AssignIn(InputSchema):
    assignee_id: int | None = Field(None, description="Give the case to this person …")
    queue_id: int | None = Field(None, description="… or put it in this queue for the routing engine.")
    note: str = Field("", max_length=500, description="Why, kept in the case history.")
    version: int | None = None


@router.post("/cases/{case_id}/assign", response={200: CaseOut, **WRITE_ERRORS}, summary="Assign or reassign")
def case_assign(request, case_id: int, payload: AssignIn):
    return services.case_assign(actor=request.auth, case_id=case_id, assignee_id=payload.assignee_id,
                                queue_id=payload.queue_id, note=payload.note, expected_version=payload.version)


class CustomerIn(InputSchema):
    contact_id: int | None = None
    account_id: int | None = None


@router.post("/cases/{case_id}/customer", response={200: CaseOut, **WRITE_ERRORS},
             summary="Link the case to its customer",
             description="For cases from unknown senders: the case leaves triage and its messages land on the "
                         "customer's timeline.")
def case_link_customer(request, case_id: int, payload: CustomerIn):
    return services.case_link_customer(actor=request.auth, case_id=case_id, contact_id=payload.contact_id,
                                       account_id=payload.account_id)


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    url: str = Field(description="Download address (access-checked).")

    @staticmethod
    def resolve_url(attachment: CaseAttachment) -> str:
        return f"/api/v1/service/attachments/{attachment.pk}"


class MessageOut(ModelSchema):
    author: PersonRef | None
    attachments: list[AttachmentOut]

    class Meta:
        model = CaseMessage
        fields = ["id", "kind", "channel", "from_address", "to_addresses", "subject", "body", "message_id",
                  "delivery_status", "interaction", "created_at"]

    @staticmethod
    def resolve_attachments(message: CaseMessage) -> list:
        return list(message.attachments.all())


class MessageIn(InputSchema):
    body: str = Field("", max_length=50000, description="The text.")
    kind: Literal["reply", "note"] = Field("reply", description="reply (to the customer, emailed when the case "
                                                                "has an address) or note (internal).")
    new_status: CaseStatus | None = Field(None, description="Move the case on in the same step, e.g. "
                                                            "pending_customer or resolved.")
    channel: str = Field("", max_length=20, description="Channel of a reply given another way, e.g. phone.")
    attachments: list[AttachmentIn] | None = None
    version: int | None = None


@router.get("/cases/{case_id}/messages", response={200: list[MessageOut], **READ_ERRORS},
            summary="A case's thread", description="Oldest first; internal notes included.")
@paginate(ApiListPagination)
def case_messages(request, case_id: int):
    return selectors.case_thread(request.auth, case_id)[1]


@router.post("/cases/{case_id}/messages", response={201: MessageOut, **WRITE_ERRORS}, summary="Reply or add a note")
def case_reply(request, case_id: int, payload: MessageIn):
    return Status(201, services.case_reply(
        actor=request.auth, case_id=case_id, body=payload.body, kind=payload.kind,
        attachments=_files(payload.attachments), new_status=payload.new_status or "", channel=payload.channel,
        expected_version=payload.version))


class EventOut(ModelSchema):
    actor: PersonRef | None

    class Meta:
        model = CaseEvent
        fields = ["id", "at", "kind", "from_value", "to_value", "detail"]


@router.get("/cases/{case_id}/history", response={200: list[EventOut], **READ_ERRORS}, summary="A case's history",
            description="Status changes, (re)assignments, escalations and SLA events, oldest first.")
@paginate(ApiListPagination)
def case_history(request, case_id: int):
    return selectors.case_history(request.auth, case_id)


@router.get("/attachments/{attachment_id}", response={200: None, **READ_ERRORS}, summary="Download an attachment")
def attachment_download(request, attachment_id: int):
    attachment = selectors.access_attachment_by_id(request.auth, attachment_id)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name,
                        content_type=attachment.content_type or "application/octet-stream")


# ======================================================================================
# Email in
# ======================================================================================
class InboundOut(ModelSchema):
    case: int | None = Field(description="ID of the case the message created or joined.")
    case_number: str = ""
    duplicate: bool = Field(False, description="True when this Message-ID had been received before.")

    class Meta:
        model = InboundEmail
        fields = ["id", "message_id", "received_at", "received_via", "sender", "subject", "size", "outcome",
                  "problems"]

    @staticmethod
    def resolve_case(inbound: InboundEmail) -> int | None:
        return inbound.case_id


@router.post("/email-in", response={201: InboundOut, 200: InboundOut, **WRITE_ERRORS}, tags=["service"],
             summary="Receive an email",
             description="The body is one raw RFC 5322 message (Content-Type message/rfc822), as an IMAP poller or "
                         "a mail gateway hands it on. Answers 201 with the case it created or joined, or 200 with "
                         "the first record when this Message-ID was received before.")
def email_in(request):
    from guanxi.service.email_in import ingest_raw_email

    if not can(request.auth, "inbound_email", "create"):
        raise PermissionDenied("may not post inbound email")
    if not request.body:
        raise ValidationError({"message": ["Send the raw message as the request body."]})
    result = ingest_raw_email(request.body, received_via="api")
    out = InboundOut.from_orm(result.inbound)
    out.case_number = result.case.number if result.case else ""
    out.duplicate = result.duplicate
    return Status(200 if result.duplicate else 201, out)


@router.get("/inbound-emails", response={200: list[InboundOut], **READ_ERRORS}, summary="Received emails")
@paginate(ApiListPagination)
def inbound_email_list(request):
    return selectors.inbound_email_list(request.auth)


# ======================================================================================
# Notifications
# ======================================================================================
class NotificationOut(ModelSchema):
    case_number: str = ""

    class Meta:
        model = ServiceNotification
        fields = ["id", "kind", "text", "case", "created_at", "read_at"]

    @staticmethod
    def resolve_case_number(notice: ServiceNotification) -> str:
        return notice.case.number if notice.case_id else ""


@router.get("/notifications", response={200: list[NotificationOut], **READ_ERRORS}, summary="Your notices")
@paginate(ApiListPagination)
def notification_list(request, unread: bool = True):
    return selectors.notifications_for(request.auth, unread_only=unread)


class ReadIn(InputSchema):
    ids: list[int] | None = Field(None, description="Notices to mark read; all when empty.")


@router.post("/notifications/read", response={200: dict, **WRITE_ERRORS}, summary="Mark notices read")
def notification_read(request, payload: ReadIn):
    return {"marked": services.notification_mark_read(actor=request.auth, notification_ids=payload.ids)}


# ======================================================================================
# Calendars, SLA policies, queues, agents
# ======================================================================================
class CalendarDayIO(InputSchema):
    date: dt.date
    kind: Literal["holiday", "special"] = "holiday"
    hours: str = Field("", max_length=120, description="Opening hours of a special day, e.g. 09:00-18:00.")
    name: str = Field("", max_length=120)


class CalendarOut(ModelSchema):
    days: list[CalendarDayIO]

    class Meta:
        model = ServiceCalendar
        fields = ["id", "name", "time_zone", "weekly_hours"]

    @staticmethod
    def resolve_days(calendar: ServiceCalendar) -> list:
        return [{"date": day.date, "kind": day.kind, "hours": day.hours, "name": day.name}
                for day in calendar.days.all()]


class CalendarIn(InputSchema):
    name: str | None = model_field(ServiceCalendar, "name")
    time_zone: str | None = model_field(ServiceCalendar, "time_zone")
    weekly_hours: dict[str, str] | None = Field(None, description='Weekday → hours, e.g. {"mon": "09:00-18:00"}.')
    days: list[CalendarDayIO] | None = Field(None, description="Holidays and special days; replaces the list.")


@router.get("/calendars", response={200: list[CalendarOut], **READ_ERRORS}, summary="Business calendars")
@paginate(ApiListPagination)
def calendar_list(request):
    return selectors.calendar_list(request.auth)


@router.post("/calendars", response={201: CalendarOut, **WRITE_ERRORS}, summary="Create a business calendar")
def calendar_create(request, payload: CalendarIn):
    return Status(201, services.calendar_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.patch("/calendars/{calendar_id}", response={200: CalendarOut, **WRITE_ERRORS}, summary="Change a calendar",
              description="Open cases under policies using it get their deadlines recomputed.")
def calendar_update(request, calendar_id: int, payload: CalendarIn):
    return services.calendar_update(actor=request.auth, calendar_id=calendar_id,
                                    data=payload.dict(exclude_unset=True))


@router.delete("/calendars/{calendar_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a calendar")
def calendar_delete(request, calendar_id: int):
    services.calendar_delete(actor=request.auth, calendar_id=calendar_id)
    return Status(204, None)


class RuleIO(InputSchema):
    trigger: SlaTrigger
    reassign_queue_id: int | None = None
    reassign_to_id: int | None = None
    raise_priority: bool = False
    mark_escalated: bool = True
    notify_assignee: bool = True
    notify_user_ids: list[int] = Field(default_factory=list)


class PolicyOut(ModelSchema):
    escalation_rules: list[RuleIO]

    class Meta:
        model = SlaPolicy
        fields = ["id", "name", "priority", "customer_tier", "calendar", "first_response_minutes",
                  "resolution_minutes", "warning_percent", "position", "is_active"]

    @staticmethod
    def resolve_escalation_rules(policy: SlaPolicy) -> list:
        return [{"trigger": rule.trigger, "reassign_queue_id": rule.reassign_queue_id,
                 "reassign_to_id": rule.reassign_to_id, "raise_priority": rule.raise_priority,
                 "mark_escalated": rule.mark_escalated, "notify_assignee": rule.notify_assignee,
                 "notify_user_ids": [user.pk for user in rule.notify_users.all()]}
                for rule in policy.escalation_rules.all()]


class PolicyIn(InputSchema):
    name: str | None = model_field(SlaPolicy, "name")
    priority: str | None = model_field(SlaPolicy, "priority")
    customer_tier: str | None = model_field(SlaPolicy, "customer_tier")
    calendar_id: int | None = Field(None, description="Business calendar the targets count in.")
    first_response_minutes: int | None = model_field(SlaPolicy, "first_response_minutes", ge=1)
    resolution_minutes: int | None = model_field(SlaPolicy, "resolution_minutes", ge=1)
    warning_percent: int | None = model_field(SlaPolicy, "warning_percent", ge=1, le=100)
    position: int | None = model_field(SlaPolicy, "position", ge=0)
    is_active: bool | None = None
    escalation_rules: list[RuleIO] | None = Field(None, description="Replaces the policy's rules.")


@router.get("/sla-policies", response={200: list[PolicyOut], **READ_ERRORS}, summary="SLA policies")
@paginate(ApiListPagination)
def sla_policy_list(request):
    return selectors.sla_policy_list(request.auth)


@router.post("/sla-policies", response={201: PolicyOut, **WRITE_ERRORS}, summary="Create an SLA policy")
def sla_policy_create(request, payload: PolicyIn):
    return Status(201, services.sla_policy_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.patch("/sla-policies/{policy_id}", response={200: PolicyOut, **WRITE_ERRORS}, summary="Change an SLA policy")
def sla_policy_update(request, policy_id: int, payload: PolicyIn):
    return services.sla_policy_update(actor=request.auth, policy_id=policy_id, data=payload.dict(exclude_unset=True))


@router.delete("/sla-policies/{policy_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an SLA policy")
def sla_policy_delete(request, policy_id: int):
    services.sla_policy_delete(actor=request.auth, policy_id=policy_id)
    return Status(204, None)


class QueueOut(ModelSchema):
    waiting: int = Field(0, description="Cases waiting for an agent.")

    class Meta:
        model = ServiceQueue
        fields = ["id", "code", "name", "strategy", "required_skills", "categories", "experts_from_priority",
                  "supervisor", "is_active"]


class QueueIn(InputSchema):
    code: str | None = model_field(ServiceQueue, "code")
    name: str | None = model_field(ServiceQueue, "name")
    strategy: str | None = model_field(ServiceQueue, "strategy")
    required_skills: dict[str, int] | None = Field(None, description="Skill → minimum level 1-10.")
    categories: list[str] | None = Field(None, description="New cases of these categories join the queue.")
    experts_from_priority: str | None = model_field(ServiceQueue, "experts_from_priority")
    supervisor_id: int | None = None
    is_active: bool | None = None


def _with_waiting(queues):
    counts = selectors.queue_waiting_counts()
    for queue in queues:
        queue.waiting = counts.get(queue.pk, 0)
    return queues


@router.get("/queues", response={200: list[QueueOut], **READ_ERRORS}, summary="Service queues")
def queue_list(request):
    return _with_waiting(list(selectors.queue_list(request.auth)))


@router.post("/queues", response={201: QueueOut, **WRITE_ERRORS}, summary="Create a queue")
def queue_create(request, payload: QueueIn):
    return Status(201, services.queue_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.patch("/queues/{queue_id}", response={200: QueueOut, **WRITE_ERRORS}, summary="Change a queue")
def queue_update(request, queue_id: int, payload: QueueIn):
    return _with_waiting([services.queue_update(actor=request.auth, queue_id=queue_id,
                                                data=payload.dict(exclude_unset=True))])[0]


@router.delete("/queues/{queue_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a queue")
def queue_delete(request, queue_id: int):
    services.queue_delete(actor=request.auth, queue_id=queue_id)
    return Status(204, None)


class MembershipIO(InputSchema):
    queue_id: int
    penalty: int = Field(0, ge=0, le=100, description="Higher penalties are tried only when lower ones are busy.")


class AgentOut(Schema):
    user: PersonRef
    skills: dict[str, int]
    max_open_cases: int
    accepting_cases: bool
    is_technician: bool
    calendar_id: int | None
    open_cases: int = 0
    queues: list[MembershipIO]

    @staticmethod
    def resolve_queues(agent: ServiceAgent) -> list:
        return [{"queue_id": item.queue_id, "penalty": item.penalty} for item in agent.memberships.all()]


class AgentIn(InputSchema):
    skills: dict[str, int] | None = Field(None, description="Skill → level 1-10.")
    max_open_cases: int | None = Field(None, ge=1, le=1000)
    accepting_cases: bool | None = None
    is_technician: bool | None = None
    calendar_id: int | None = Field(None, description="Working hours (for field visits).")
    queues: list[MembershipIO] | None = Field(None, description="Explicit queue memberships; replaces the list.")


def _with_load(agents):
    counts = selectors.agent_open_case_counts(agent.user_id for agent in agents)
    for agent in agents:
        agent.open_cases = counts.get(agent.user_id, 0)
    return agents


@router.get("/agents", response={200: list[AgentOut], **READ_ERRORS}, summary="Service agents")
def agent_list(request):
    return _with_load(list(selectors.agent_list(request.auth).prefetch_related("memberships")))


@router.put("/agents/{user_id}", response={200: AgentOut, **WRITE_ERRORS}, summary="Set a person's agent profile")
def agent_save(request, user_id: int, payload: AgentIn):
    return _with_load([services.agent_save(actor=request.auth, user_id=user_id,
                                           data=payload.dict(exclude_unset=True))])[0]


class AvailabilityIn(InputSchema):
    accepting_cases: bool


@router.post("/agents/me/availability", response={200: AgentOut, **WRITE_ERRORS},
             summary="Start or stop taking cases")
def agent_availability(request, payload: AvailabilityIn):
    return _with_load([services.agent_set_availability(actor=request.auth, accepting=payload.accepting_cases)])[0]
