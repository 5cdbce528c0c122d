"""REST routes of the service domain, mounted at /api/v1/service.

Each route parses its input, calls one selector or service (which carry the access
checks and validation) and serializes the answer. Errors map to HTTP in ``guanxi.api``.
"""


import base64
import binascii
import datetime as dt
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils import timezone
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from guanxi.core.access import can
from guanxi.core.api_conventions import (
    READ_ERRORS, WRITE_ERRORS, ApiListPagination, ErrorOut, FieldErrorsOut, InputSchema, model_field,
)
from guanxi.core.errors import PermissionDenied
from guanxi.service import reports, selectors, services
from guanxi.service.models import (
    Case, CaseAttachment, CaseCategory, CaseEvent, CaseMessage, CaseOrigin, CasePriority, CaseStatus, Complaint,
    FieldVisit, InboundEmail, KnowledgeArticle, KnowledgeArticleVersion, ServiceAgent, ServiceCalendar,
    ServiceContract, ServiceNotification, ServiceQueue, SlaPolicy, SlaTrigger, Survey,
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
            "product_ref", "order_ref", "sales_contract_ref", "order", "sales_contract", "requester_email",
            "requester_name", "needs_triage", "queued_at", "service_contract", "entitlement", "entitlement_status",
            "sla_policy",
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


# ======================================================================================
# Service contracts and entitlements
# ======================================================================================
class EntitlementIO(InputSchema):
    name: str = Field(max_length=120, description="E.g. Remote support incidents.")
    unit: Literal["incidents", "hours"] = "incidents"
    quantity: Decimal = Field(gt=0, description="Incidents or hours included.")
    categories: list[str] = Field(default_factory=list, description="Case categories covered; empty covers all.")
    products: list[str] = Field(default_factory=list, description="Products covered; empty covers all.")


class EntitlementOut(Schema):
    id: int
    name: str
    unit: str
    quantity: Decimal
    used: Decimal
    remaining: Decimal
    categories: list[str]
    products: list[str]


class ContractOut(ModelSchema):
    account: AccountRef
    contact: ContactRef | None
    entitlements: list[EntitlementOut]
    active: bool = Field(description="Covers today.")

    class Meta:
        model = ServiceContract
        fields = ["id", "number", "name", "starts_on", "ends_on", "sla_policy", "sales_contract_ref", "notes",
                  "created_at", "version"]

    @staticmethod
    def resolve_entitlements(contract: ServiceContract) -> list:
        return list(contract.entitlements.all())

    @staticmethod
    def resolve_active(contract: ServiceContract) -> bool:
        return contract.covers_date(timezone.localdate())


class ContractIn(InputSchema):
    name: str | None = model_field(ServiceContract, "name")
    account_id: int | None = None
    contact_id: int | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    sla_policy_id: int | None = None
    sales_contract_ref: str | None = model_field(ServiceContract, "sales_contract_ref")
    notes: str | None = None
    entitlements: list[EntitlementIO] | None = Field(None, description="Entitlements to add.")
    version: int | None = None


def _contract_data(payload: ContractIn) -> tuple[dict, int | None]:
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    if "entitlements" in data:
        data["entitlements"] = [item.dict() for item in payload.entitlements or []]
    return data, version


@router.get("/contracts", response={200: list[ContractOut], **READ_ERRORS}, summary="Service contracts")
@paginate(ApiListPagination)
def contract_list(request, account_id: int | None = None, active: bool = False):
    return selectors.contract_list(request.auth, account_id=account_id,
                                   active_on=timezone.localdate() if active else None)


@router.post("/contracts", response={201: ContractOut, **WRITE_ERRORS}, summary="Create a service contract")
def contract_create(request, payload: ContractIn):
    data, _version = _contract_data(payload)
    return Status(201, services.contract_create(actor=request.auth, data=data))


@router.get("/contracts/{contract_id}", response={200: ContractOut, **READ_ERRORS}, summary="Read a contract")
def contract_detail(request, contract_id: int):
    return selectors.access_contract_by_id(request.auth, contract_id)


@router.patch("/contracts/{contract_id}", response={200: ContractOut, **WRITE_ERRORS}, summary="Change a contract")
def contract_update(request, contract_id: int, payload: ContractIn):
    data, version = _contract_data(payload)
    return services.contract_update(actor=request.auth, contract_id=contract_id, data=data,
                                    expected_version=version)


@router.delete("/contracts/{contract_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a contract")
def contract_delete(request, contract_id: int):
    services.contract_delete(actor=request.auth, contract_id=contract_id)
    return Status(204, None)


@router.get("/entitlement-check", response={200: dict, **READ_ERRORS}, summary="Check coverage",
            description="What a new case for this account would find: covered, no_contract, not_covered, "
                        "exhausted or expired, with the balance left.")
def entitlement_check(request, account_id: int, category: CaseCategory = CaseCategory.OTHER, product: str = ""):
    return services.entitlement_check(actor=request.auth, account_id=account_id, category=category,
                                      product=product)


class TimeIn(InputSchema):
    hours: Decimal = Field(gt=0, le=1000, description="Working hours to charge, e.g. 1.5.")
    note: str = Field("", max_length=200)


@router.post("/cases/{case_id}/time", response={201: dict, **WRITE_ERRORS}, summary="Log time on a case",
             description="Charged to the case's hour-based entitlement; more than is left answers 422.")
def case_log_time(request, case_id: int, payload: TimeIn):
    usage = services.case_log_time(actor=request.auth, case_id=case_id, hours=payload.hours, note=payload.note)
    entitlement = usage.entitlement
    entitlement.refresh_from_db()
    return Status(201, {"id": usage.pk, "hours": str(usage.quantity), "remaining": str(entitlement.remaining)})


# ======================================================================================
# Knowledge base
# ======================================================================================
class TranslationIO(InputSchema):
    language: Literal["en", "zh-hans"]
    title: str | None = Field(None, max_length=200)
    problem: str | None = None
    solution: str | None = None
    keywords: str | None = Field(None, max_length=300)
    change_note: str | None = Field(None, max_length=200)


class VersionOut(ModelSchema):
    author: PersonRef | None

    class Meta:
        model = KnowledgeArticleVersion
        fields = ["id", "language", "number", "title", "problem", "solution", "keywords", "change_note",
                  "is_current", "created_at"]


class ArticleOut(ModelSchema):
    translations: list[VersionOut] = Field(description="The current version in each language.")

    class Meta:
        model = KnowledgeArticle
        fields = ["id", "category", "products", "status", "created_by", "created_at", "updated_at", "helpful_count"]

    @staticmethod
    def resolve_translations(article: KnowledgeArticle) -> list:
        return sorted(selectors.article_current_versions(article).values(), key=lambda version: version.language)


class ArticleIn(InputSchema):
    category: CaseCategory | None = None
    products: list[str] | None = None
    status: Literal["draft", "published", "archived"] | None = None
    translations: list[TranslationIO] | None = Field(None, description="Text per language; each saved text "
                                                                       "becomes a new version.")


class SearchHitOut(Schema):
    article_id: int
    language: str
    title: str
    problem: str
    solution: str
    status: str
    score: float | None = None


def _hit(version: KnowledgeArticleVersion, score: float | None = None) -> dict:
    return {"article_id": version.article_id, "language": version.language, "title": version.title,
            "problem": version.problem, "solution": version.solution, "status": version.article.status,
            "score": round(score, 4) if score is not None else None}


@router.get("/articles", response={200: list[SearchHitOut], **READ_ERRORS}, summary="Search the knowledge base",
            description="Current versions matching every word of `q` (Chinese and English), in any language "
                        "unless `language` is given.")
@paginate(ApiListPagination)
def article_search(request, q: str = "", language: Literal["en", "zh-hans"] | None = None,
                   status: Literal["draft", "published", "archived"] | None = None,
                   category: CaseCategory | None = None):
    return [_hit(version) for version in selectors.article_search(request.auth, q, language=language or "",
                                                                 status=status or "", category=category or "")]


@router.get("/articles/suggestions", response={200: list[SearchHitOut], **READ_ERRORS},
            summary="Suggest articles for a problem",
            description="Published articles ranked by how well they match free text, e.g. a new case's subject and "
                        "description; one per article, in `language` when it has that translation.")
def article_suggestions(request, text: str, language: Literal["en", "zh-hans"] | None = None, limit: int = 5):
    return [_hit(item.version, item.score) for item in selectors.article_suggestions(
        request.auth, text, limit=max(1, min(limit, 20)), language=language or "")]


@router.get("/cases/{case_id}/suggestions", response={200: list[SearchHitOut], **READ_ERRORS},
            summary="Articles that may solve a case")
def case_suggestions(request, case_id: int):
    case = selectors.access_case_by_id(request.auth, case_id)
    return [_hit(item.version, item.score) for item in selectors.article_suggestions(
        request.auth, f"{case.subject}\n{case.description}")]


@router.post("/articles", response={201: ArticleOut, **WRITE_ERRORS}, summary="Write an article")
def article_create(request, payload: ArticleIn):
    data = payload.dict(exclude_unset=True)
    return Status(201, services.article_create(actor=request.auth, data=data))


@router.get("/articles/{article_id}", response={200: ArticleOut, **READ_ERRORS}, summary="Read an article")
def article_detail(request, article_id: int):
    return selectors.access_article_by_id(request.auth, article_id)


@router.patch("/articles/{article_id}", response={200: ArticleOut, **WRITE_ERRORS}, summary="Change an article")
def article_update(request, article_id: int, payload: ArticleIn):
    return services.article_update(actor=request.auth, article_id=article_id, data=payload.dict(exclude_unset=True))


@router.delete("/articles/{article_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an article")
def article_delete(request, article_id: int):
    services.article_delete(actor=request.auth, article_id=article_id)
    return Status(204, None)


@router.get("/articles/{article_id}/versions", response={200: list[VersionOut], **READ_ERRORS},
            summary="Every version of an article", description="Newest first per language.")
def article_versions(request, article_id: int, language: Literal["en", "zh-hans"] | None = None):
    return list(selectors.article_versions(request.auth, article_id, language or ""))


class RestoreIn(InputSchema):
    version_id: int


@router.post("/articles/{article_id}/restore", response={201: VersionOut, **WRITE_ERRORS},
             summary="Restore an earlier version", description="Its text becomes the newest version.")
def article_restore(request, article_id: int, payload: RestoreIn):
    return Status(201, services.article_restore_version(actor=request.auth, article_id=article_id,
                                                        version_id=payload.version_id))


class HelpfulIn(InputSchema):
    case_id: int


@router.post("/articles/{article_id}/helpful", response={200: ArticleOut, **WRITE_ERRORS},
             summary="The article solved a case")
def article_helpful(request, article_id: int, payload: HelpfulIn):
    return services.article_mark_helpful(actor=request.auth, article_id=article_id, case_id=payload.case_id)


# ======================================================================================
# Complaints
# ======================================================================================
class ComplaintStepOut(Schema):
    from_status: str
    to_status: str
    note: str
    actor: PersonRef | None
    at: dt.datetime


class ComplaintOut(ModelSchema):
    contact: ContactRef | None
    account: AccountRef | None
    owner: PersonRef | None
    steps: list[ComplaintStepOut]

    class Meta:
        model = Complaint
        fields = ["id", "number", "case", "subject", "description", "severity", "status", "root_cause",
                  "corrective_action", "preventive_action", "due_on", "received_at", "closed_at", "version"]

    @staticmethod
    def resolve_steps(complaint: Complaint) -> list:
        return list(complaint.steps.select_related("actor"))


class ComplaintIn(InputSchema):
    case_id: int | None = Field(None, description="Case the complaint arose from (its customer is taken).")
    contact_id: int | None = None
    subject: str | None = model_field(Complaint, "subject")
    description: str | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    owner_id: int | None = None
    due_on: dt.date | None = None


class ComplaintPatch(InputSchema):
    subject: str | None = model_field(Complaint, "subject")
    description: str | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    root_cause: str | None = None
    corrective_action: str | None = None
    preventive_action: str | None = None
    due_on: dt.date | None = None
    owner_id: int | None = None
    status: Literal["received", "investigating", "action", "verifying", "closed"] | None = Field(
        None, description="Next step; root cause is needed before action, corrective action before verifying.")
    note: str | None = Field(None, max_length=5000, description="What was found or done in this step.")
    version: int | None = None


@router.get("/complaints", response={200: list[ComplaintOut], **READ_ERRORS}, summary="Complaints")
@paginate(ApiListPagination)
def complaint_list(request, status: str = "", open_only: bool = False):
    return selectors.complaint_list(request.auth, status=status, open_only=open_only)


@router.post("/complaints", response={201: ComplaintOut, **WRITE_ERRORS}, summary="Record a complaint")
def complaint_create(request, payload: ComplaintIn):
    return Status(201, services.complaint_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/complaints/{complaint_id}", response={200: ComplaintOut, **READ_ERRORS}, summary="Read a complaint")
def complaint_detail(request, complaint_id: int):
    return selectors.access_complaint_by_id(request.auth, complaint_id)


@router.patch("/complaints/{complaint_id}", response={200: ComplaintOut, **WRITE_ERRORS},
              summary="Work on a complaint")
def complaint_update(request, complaint_id: int, payload: ComplaintPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.complaint_update(actor=request.auth, complaint_id=complaint_id, data=data,
                                     expected_version=version)


@router.delete("/complaints/{complaint_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a complaint")
def complaint_delete(request, complaint_id: int):
    services.complaint_delete(actor=request.auth, complaint_id=complaint_id)
    return Status(204, None)


# ======================================================================================
# Satisfaction surveys
# ======================================================================================
class SurveyOut(ModelSchema):
    case_number: str
    agent: PersonRef | None

    class Meta:
        model = Survey
        fields = ["id", "case", "kind", "language", "recipient_email", "contact", "account", "product", "channel",
                  "sent_at", "delivery_status", "expires_at", "answered_at", "csat_score", "nps_score", "comment"]

    @staticmethod
    def resolve_case_number(survey: Survey) -> str:
        return survey.case.number


@router.get("/surveys", response={200: list[SurveyOut], **READ_ERRORS}, summary="Satisfaction surveys")
@paginate(ApiListPagination)
def survey_list(request, answered: bool | None = None):
    queryset = selectors.visible_surveys(request.auth).order_by("-sent_at", "-id")
    if answered is not None:
        queryset = queryset.filter(answered_at__isnull=not answered)
    return queryset


class SurveySendIn(InputSchema):
    case_id: int
    kind: Literal["csat", "nps", "both"] = "both"


@router.post("/surveys", response={201: SurveyOut, **WRITE_ERRORS}, summary="Send a case's survey by hand",
             description="Resolving a case sends its survey; this is for cases that had none.")
def survey_send(request, payload: SurveySendIn):
    return Status(201, services.survey_send(actor=request.auth, case_id=payload.case_id, kind=payload.kind))


class SurveyAnswerIn(InputSchema):
    token: str = Field(max_length=300, description="The signed token of the survey link.")
    csat_score: int | None = Field(None, description="1 to 5.")
    nps_score: int | None = Field(None, description="0 to 10.")
    comment: str = Field("", max_length=5000)


@router.post("/surveys/answer", auth=None, response={200: dict, 404: ErrorOut, 409: ErrorOut, 422: FieldErrorsOut},
             summary="Answer a survey (customer)",
             description="No sign-in: the signed token from the survey link is the credential. Answered once.")
def survey_answer(request, payload: SurveyAnswerIn):
    from guanxi.service.services.surveys import survey_token_from_link

    survey = services.survey_answer(token=survey_token_from_link(payload.token), csat_score=payload.csat_score,
                                    nps_score=payload.nps_score, comment=payload.comment)
    return {"case_number": survey.case.number, "csat_score": survey.csat_score, "nps_score": survey.nps_score,
            "answered_at": survey.answered_at.isoformat()}


# ======================================================================================
# Field service
# ======================================================================================
class VisitOut(ModelSchema):
    technician: PersonRef
    case_number: str

    class Meta:
        model = FieldVisit
        fields = ["id", "number", "case", "starts_at", "ends_at", "address", "status", "notes", "outcome",
                  "created_at", "completed_at", "version"]

    @staticmethod
    def resolve_case_number(visit: FieldVisit) -> str:
        return visit.case.number


class VisitIn(InputSchema):
    case_id: int
    technician_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    address: str = Field("", max_length=300, description="Where to go; the customer's primary address when empty.")
    notes: str = Field("", max_length=5000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        return timezone.make_aware(value) if timezone.is_naive(value) else value


class VisitPatch(InputSchema):
    technician_id: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    address: str | None = Field(None, max_length=300)
    notes: str | None = None
    outcome: str | None = None
    status: Literal["scheduled", "dispatched", "in_progress", "completed", "cancelled"] | None = None
    version: int | None = None

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return timezone.make_aware(value) if value is not None and timezone.is_naive(value) else value


@router.get("/visits", response={200: list[VisitOut], **READ_ERRORS}, summary="Field visits in a period",
            description="The calendar: visits overlapping [start, end), by technician when given.")
def visit_calendar(request, start: dt.date, end: dt.date, technician_id: int | None = None):
    period = reports.Period.between(start, end - dt.timedelta(days=1) if end > start else start)
    return list(selectors.visit_calendar(request.auth, period.start, period.end, technician_id=technician_id))


@router.post("/visits", response={201: VisitOut, **WRITE_ERRORS}, summary="Book a field visit")
def visit_schedule(request, payload: VisitIn):
    return Status(201, services.visit_schedule(actor=request.auth, **payload.dict()))


@router.patch("/visits/{visit_id}", response={200: VisitOut, **WRITE_ERRORS},
              summary="Reschedule, dispatch, complete or cancel a visit")
def visit_update(request, visit_id: int, payload: VisitPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.visit_update(actor=request.auth, visit_id=visit_id, data=data, expected_version=version)


@router.delete("/visits/{visit_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a visit")
def visit_delete(request, visit_id: int):
    services.visit_delete(actor=request.auth, visit_id=visit_id)
    return Status(204, None)


class SlotOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime


@router.get("/technicians/{technician_id}/availability", response={200: list[SlotOut], **READ_ERRORS},
            summary="When a technician is free",
            description="Working hours less time off and booked visits, between `start` and `end` (dates).")
def technician_availability(request, technician_id: int, start: dt.date, end: dt.date):
    period = reports.Period.between(start, end)
    return [{"starts_at": begin, "ends_at": finish} for begin, finish in
            selectors.technician_free_slots(request.auth, technician_id, period.start, period.end)]


class TimeOffIn(InputSchema):
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str = Field("", max_length=200)


@router.post("/technicians/{technician_id}/time-off", response={201: SlotOut, **WRITE_ERRORS},
             summary="Block a technician's time")
def technician_time_off(request, technician_id: int, payload: TimeOffIn):
    time_off = services.time_off_add(actor=request.auth, technician_id=technician_id,
                                     starts_at=timezone.make_aware(payload.starts_at)
                                     if timezone.is_naive(payload.starts_at) else payload.starts_at,
                                     ends_at=timezone.make_aware(payload.ends_at)
                                     if timezone.is_naive(payload.ends_at) else payload.ends_at,
                                     reason=payload.reason)
    return Status(201, {"starts_at": time_off.starts_at, "ends_at": time_off.ends_at})


# ======================================================================================
# Reports
# ======================================================================================
@router.get("/reports/dashboard", response={200: dict, **READ_ERRORS}, summary="Service dashboard",
            description="Backlog, age of open cases, SLA attainment, first-contact resolution and CSAT trend "
                        "over the last `days` days, for the cases you may see.")
def report_dashboard(request, days: int = Query(30, ge=1, le=366)):
    return reports.service_dashboard(request.auth, days=days)


@router.get("/reports/sla", response={200: dict, **READ_ERRORS}, summary="SLA report")
def report_sla(request, start: dt.date, end: dt.date,
               group_by: Literal["policy", "priority", "queue", "agent", "category", "channel"] = "policy"):
    if end < start:
        raise ValidationError({"end": ["The end date must not be before the start date."]})
    return reports.sla_report(request.auth, reports.Period.between(start, end), group_by)


@router.get("/reports/satisfaction", response={200: dict, **READ_ERRORS}, summary="Satisfaction results",
            description="CSAT and NPS per customer, agent, product, channel, or period (day, week, month).")
def report_satisfaction(request, start: dt.date, end: dt.date,
                        group_by: Literal["customer", "agent", "product", "channel", "period"] = "agent",
                        granularity: Literal["day", "week", "month"] = "month"):
    if end < start:
        raise ValidationError({"end": ["The end date must not be before the start date."]})
    return reports.satisfaction_report(request.auth, reports.Period.between(start, end), group_by, granularity)
