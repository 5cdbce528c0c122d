"""REST routes of the contact center (mounted at /contact-center): configuration (skills,
queues, agents, dispositions, scripts, IVR menus), agent states, calls and the desktop's
call controls, telephony events, the phone simulator, the wallboard, reports and Erlang.

Each route parses its input, calls one selector or service and serializes the answer.
"""


import datetime
from typing import Any, Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from guanxi.contactcenter import erlang, selectors, services
from guanxi.contactcenter.models import (
    AgentProfile, AgentStateChange, AgentStateKind, AwayReason, Call, CallEvent, CallState, CtiEventLog, Disposition,
    IvrMenu, Queue, QueueStrategy, Script, Skill, WorkMedia,
)
from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field

router = Router(tags=["contact center"])


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


# ======================================================================================
# Skills
# ======================================================================================
class SkillOut(ModelSchema):
    class Meta:
        model = Skill
        fields = ["id", "code", "name"]


class SkillIn(InputSchema):
    code: str = model_field(Skill, "code", ...)
    name: str = model_field(Skill, "name", ...)


@router.get("/skills", response={200: list[SkillOut], **READ_ERRORS}, summary="List skills")
@paginate(ApiListPagination)
def skill_list(request):
    return selectors.skill_list(request.auth)


@router.post("/skills", response={201: SkillOut, **WRITE_ERRORS}, summary="Add a skill")
def skill_create(request, payload: SkillIn):
    return Status(201, services.skill_create(actor=request.auth, data=payload.dict()))


@router.delete("/skills/{skill_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a skill",
               description="Refused (409) while a queue requires it.")
def skill_delete(request, skill_id: int):
    services.skill_delete(actor=request.auth, skill_id=skill_id)
    return Status(204, None)


# ======================================================================================
# Queues
# ======================================================================================
class PenaltyRuleIn(InputSchema):
    after_seconds: float = Field(ge=0, description="From this wait on, the rule applies.")
    max_penalty: int | None = Field(None, ge=0, description="Highest agent penalty reachable; null: no limit.")
    min_penalty: int | None = Field(None, ge=0, description="Lowest agent penalty reachable; null: no limit.")


class QueueOut(ModelSchema):
    overflow_queue_id: int | None = Field(None, description="Queue that takes callers after the overflow wait.")

    class Meta:
        model = Queue
        fields = ["id", "code", "name", "media", "strategy", "numbers", "required_skills",
                  "penalty_from_skill_level", "weight", "ring_timeout_seconds", "wrapup_seconds", "max_wait_seconds",
                  "max_waiting", "overflow_after_seconds", "penalty_rules", "initial_max_penalty",
                  "priority_aging_per_second", "most_skilled_from_priority", "join_empty", "leave_when_empty",
                  "service_level_seconds", "service_level_goal", "short_abandon_seconds",
                  "callback_offer_estimate_over", "callback_offer_after", "is_active", "created_at", "updated_at"]


class QueuePatch(InputSchema):
    code: str | None = model_field(Queue, "code")
    name: str | None = model_field(Queue, "name")
    media: WorkMedia | None = Field(None, description="voice, chat, email or callback.")
    strategy: QueueStrategy | None = Field(None, description="How a free agent is chosen.")
    numbers: list[str] | None = model_field(Queue, "numbers")
    required_skills: dict[str, int] | None = model_field(Queue, "required_skills")
    penalty_from_skill_level: bool | None = model_field(Queue, "penalty_from_skill_level")
    weight: int | None = model_field(Queue, "weight", ge=0)
    ring_timeout_seconds: int | None = model_field(Queue, "ring_timeout_seconds", ge=1)
    wrapup_seconds: int | None = model_field(Queue, "wrapup_seconds", ge=0)
    max_wait_seconds: int | None = model_field(Queue, "max_wait_seconds", ge=1)
    max_waiting: int | None = model_field(Queue, "max_waiting", ge=1)
    overflow_after_seconds: int | None = model_field(Queue, "overflow_after_seconds", ge=1)
    overflow_queue_id: int | None = Field(None, description="Queue that takes callers after the overflow wait.")
    penalty_rules: list[PenaltyRuleIn] | None = model_field(Queue, "penalty_rules")
    initial_max_penalty: int | None = model_field(Queue, "initial_max_penalty", ge=0)
    priority_aging_per_second: float | None = model_field(Queue, "priority_aging_per_second", ge=0)
    most_skilled_from_priority: int | None = model_field(Queue, "most_skilled_from_priority")
    join_empty: list[str] | None = model_field(Queue, "join_empty")
    leave_when_empty: list[str] | None = model_field(Queue, "leave_when_empty")
    service_level_seconds: int | None = model_field(Queue, "service_level_seconds", ge=0)
    service_level_goal: int | None = model_field(Queue, "service_level_goal")
    short_abandon_seconds: int | None = model_field(Queue, "short_abandon_seconds", ge=0)
    callback_offer_estimate_over: int | None = model_field(Queue, "callback_offer_estimate_over", ge=1)
    callback_offer_after: int | None = model_field(Queue, "callback_offer_after", ge=1)
    is_active: bool | None = model_field(Queue, "is_active")


class QueueIn(QueuePatch):
    code: str = model_field(Queue, "code", ...)
    name: str = model_field(Queue, "name", ...)


def _queue_data(payload: QueuePatch) -> dict:
    data = payload.dict(exclude_unset=True)
    if "penalty_rules" in data and data["penalty_rules"] is not None:
        data["penalty_rules"] = [{key: value for key, value in rule.items() if value is not None}
                                 for rule in data["penalty_rules"]]
    return data


@router.get("/queues", response={200: list[QueueOut], **READ_ERRORS}, summary="List queues")
@paginate(ApiListPagination)
def queue_list(request):
    return selectors.queue_list(request.auth)


@router.post("/queues", response={201: QueueOut, **WRITE_ERRORS}, summary="Create a queue")
def queue_create(request, payload: QueueIn):
    return Status(201, services.queue_create(actor=request.auth, data=_queue_data(payload)))


@router.get("/queues/{queue_id}", response={200: QueueOut, **READ_ERRORS}, summary="Read a queue")
def queue_detail(request, queue_id: int):
    return selectors.access_queue_by_id(request.auth, queue_id)


@router.patch("/queues/{queue_id}", response={200: QueueOut, **WRITE_ERRORS}, summary="Change a queue",
              description="The routing engine picks up the change at once.")
def queue_update(request, queue_id: int, payload: QueuePatch):
    return services.queue_update(actor=request.auth, queue_id=queue_id, data=_queue_data(payload))


@router.delete("/queues/{queue_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a queue",
               description="Refused (409) once the queue has taken calls: deactivate it instead.")
def queue_delete(request, queue_id: int):
    services.queue_delete(actor=request.auth, queue_id=queue_id)
    return Status(204, None)


# ======================================================================================
# Agents
# ======================================================================================
class MembershipIn(InputSchema):
    queue_id: int = Field(description="Queue the agent serves.")
    penalty: int = Field(0, ge=0, description="Lower penalties are offered calls first.")
    position: int | None = Field(None, ge=0, description="Order for linear and round-robin strategies.")


class MembershipOut(Schema):
    queue_id: int
    queue: str = Field(description="Queue code.")
    penalty: int
    position: int | None

    @staticmethod
    def resolve_queue(membership) -> str:
        return membership.queue.code


class AgentOut(ModelSchema):
    user_id: int
    username: str = Field(description="Login name.")
    skills: dict[str, int] = Field(description="Skill code → level (1-10).")
    memberships: list[MembershipOut] = Field(description="Explicit queue memberships.")

    class Meta:
        model = AgentProfile
        fields = ["id", "extension", "capacity", "max_missed_offers", "missed_offer_delay_seconds",
                  "declined_offer_delay_seconds", "state", "away_reason", "state_since", "is_active"]

    @staticmethod
    def resolve_username(agent) -> str:
        return agent.user.username

    @staticmethod
    def resolve_skills(agent) -> dict[str, int]:
        return {skill.skill.code: skill.level for skill in agent.skills.all()}

    @staticmethod
    def resolve_memberships(agent) -> list:
        return list(agent.memberships.all())


class AgentPatch(InputSchema):
    extension: str | None = model_field(AgentProfile, "extension")
    capacity: int | None = model_field(AgentProfile, "capacity", ge=1)
    max_missed_offers: int | None = model_field(AgentProfile, "max_missed_offers", ge=1)
    missed_offer_delay_seconds: int | None = model_field(AgentProfile, "missed_offer_delay_seconds", ge=0)
    declined_offer_delay_seconds: int | None = model_field(AgentProfile, "declined_offer_delay_seconds", ge=0)
    is_active: bool | None = model_field(AgentProfile, "is_active")
    skills: dict[str, int] | None = Field(None, description="Skill code → level (1-10); replaces the skills.")
    memberships: list[MembershipIn] | None = Field(None, description="Replaces the explicit memberships.")


class AgentIn(AgentPatch):
    user_id: int = Field(description="The user who takes calls.")


@router.get("/agents", response={200: list[AgentOut], **READ_ERRORS}, summary="List agents",
            description="Agents you may see (an agent sees their own profile).")
@paginate(ApiListPagination)
def agent_list(request):
    return selectors.visible_agents(request.auth).order_by("user__username", "id")


@router.post("/agents", response={201: AgentOut, **WRITE_ERRORS}, summary="Make a user an agent")
def agent_create(request, payload: AgentIn):
    agent = services.agent_profile_create(actor=request.auth, data=payload.dict(exclude_unset=True))
    return Status(201, selectors.access_agent_by_id(request.auth, agent.pk))


@router.get("/agents/{agent_id}", response={200: AgentOut, **READ_ERRORS}, summary="Read an agent")
def agent_detail(request, agent_id: int):
    return selectors.access_agent_by_id(request.auth, agent_id)


@router.patch("/agents/{agent_id}", response={200: AgentOut, **WRITE_ERRORS}, summary="Change an agent")
def agent_update(request, agent_id: int, payload: AgentPatch):
    services.agent_profile_update(actor=request.auth, agent_id=agent_id, data=payload.dict(exclude_unset=True))
    return selectors.access_agent_by_id(request.auth, agent_id)


@router.delete("/agents/{agent_id}", response={204: None, **WRITE_ERRORS}, summary="Remove an agent profile",
               description="Refused (409) while the agent is logged in.")
def agent_delete(request, agent_id: int):
    services.agent_profile_delete(actor=request.auth, agent_id=agent_id)
    return Status(204, None)


class AgentStateOut(Schema):
    agent_id: int
    user_id: int
    state: AgentStateKind
    away_reason: str = Field(description="Why the agent is away, when away.")
    since: datetime.datetime


class AgentStateIn(InputSchema):
    state: Literal["available", "away", "logged_out"] = Field(description="Busy, ringing and wrap-up follow from "
                                                                           "calls.")
    reason: AwayReason | None = Field(None, description="Required with away.")


class AgentStateChangeOut(ModelSchema):
    class Meta:
        model = AgentStateChange
        fields = ["id", "state", "away_reason", "started_at", "ended_at", "changed_by"]


def _state_out(agent: AgentProfile) -> dict:
    return {"agent_id": agent.pk, "user_id": agent.user_id, "state": agent.state, "away_reason": agent.away_reason,
            "since": agent.state_since}


@router.get("/agents/{agent_id}/state", response={200: AgentStateOut, **READ_ERRORS}, summary="An agent's state")
def agent_state(request, agent_id: int):
    return _state_out(selectors.access_agent_state(request.auth, agent_id))


@router.post("/agents/{agent_id}/state", response={200: AgentStateOut, **WRITE_ERRORS},
             summary="Set an agent available, away or logged out",
             description="An agent sets their own state; a supervisor may set anyone's. Logging out with a call "
                         "in hand answers 409.")
def agent_state_set(request, agent_id: int, payload: AgentStateIn):
    agent = services.agent_state_set(actor=request.auth, agent_id=agent_id, state=payload.state,
                                     reason=payload.reason or "")
    return _state_out(agent)


@router.get("/agents/{agent_id}/state-history", response={200: list[AgentStateChangeOut], **READ_ERRORS},
            summary="An agent's state history", description="Newest first.")
@paginate(ApiListPagination)
def agent_state_history(request, agent_id: int):
    return selectors.agent_state_history(request.auth, agent_id)


# ======================================================================================
# Dispositions and scripts
# ======================================================================================
class DispositionOut(ModelSchema):
    class Meta:
        model = Disposition
        fields = ["id", "code", "label", "outcome", "requires_notes", "position", "is_active"]


class DispositionPatch(InputSchema):
    code: str | None = model_field(Disposition, "code")
    label: str | None = model_field(Disposition, "label")
    outcome: str | None = model_field(Disposition, "outcome")
    requires_notes: bool | None = model_field(Disposition, "requires_notes")
    position: int | None = model_field(Disposition, "position", ge=0)
    is_active: bool | None = model_field(Disposition, "is_active")


class DispositionIn(DispositionPatch):
    code: str = model_field(Disposition, "code", ...)
    label: str = model_field(Disposition, "label", ...)


@router.get("/dispositions", response={200: list[DispositionOut], **READ_ERRORS}, summary="List dispositions")
@paginate(ApiListPagination)
def disposition_list(request):
    return selectors.disposition_list(request.auth)


@router.post("/dispositions", response={201: DispositionOut, **WRITE_ERRORS}, summary="Create a disposition")
def disposition_create(request, payload: DispositionIn):
    return Status(201, services.disposition_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/dispositions/{disposition_id}", response={200: DispositionOut, **READ_ERRORS},
            summary="Read a disposition")
def disposition_detail(request, disposition_id: int):
    return selectors.access_disposition_by_id(request.auth, disposition_id)


@router.patch("/dispositions/{disposition_id}", response={200: DispositionOut, **WRITE_ERRORS},
              summary="Change a disposition")
def disposition_update(request, disposition_id: int, payload: DispositionPatch):
    return services.disposition_update(actor=request.auth, disposition_id=disposition_id,
                                       data=payload.dict(exclude_unset=True))


@router.delete("/dispositions/{disposition_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a disposition", description="Refused (409) once calls carry it.")
def disposition_delete(request, disposition_id: int):
    services.disposition_delete(actor=request.auth, disposition_id=disposition_id)
    return Status(204, None)


class ScriptOut(ModelSchema):
    queue_id: int | None = Field(None, description="Queue whose calls show this script first.")

    class Meta:
        model = Script
        fields = ["id", "name", "body", "is_active", "updated_at"]


class ScriptPatch(InputSchema):
    name: str | None = model_field(Script, "name")
    body: str | None = model_field(Script, "body")
    queue_id: int | None = Field(None, description="Queue whose calls show this script first.")
    is_active: bool | None = model_field(Script, "is_active")


class ScriptIn(ScriptPatch):
    name: str = model_field(Script, "name", ...)
    body: str = model_field(Script, "body", ...)


@router.get("/scripts", response={200: list[ScriptOut], **READ_ERRORS}, summary="List scripts")
@paginate(ApiListPagination)
def script_list(request):
    return selectors.script_list(request.auth)


@router.post("/scripts", response={201: ScriptOut, **WRITE_ERRORS}, summary="Create a script")
def script_create(request, payload: ScriptIn):
    return Status(201, services.script_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/scripts/{script_id}", response={200: ScriptOut, **READ_ERRORS}, summary="Read a script")
def script_detail(request, script_id: int):
    return selectors.access_script_by_id(request.auth, script_id)


@router.patch("/scripts/{script_id}", response={200: ScriptOut, **WRITE_ERRORS}, summary="Change a script")
def script_update(request, script_id: int, payload: ScriptPatch):
    return services.script_update(actor=request.auth, script_id=script_id, data=payload.dict(exclude_unset=True))


@router.delete("/scripts/{script_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a script")
def script_delete(request, script_id: int):
    services.script_delete(actor=request.auth, script_id=script_id)
    return Status(204, None)


# ======================================================================================
# IVR menus
# ======================================================================================
class IvrMenuOut(ModelSchema):
    class Meta:
        model = IvrMenu
        fields = ["id", "name", "numbers", "source", "is_active", "version", "updated_at"]


class IvrMenuPatch(InputSchema):
    name: str | None = model_field(IvrMenu, "name")
    numbers: list[str] | None = model_field(IvrMenu, "numbers")
    source: str | None = Field(None, max_length=200_000, description="The menu in YAML or JSON.")
    is_active: bool | None = model_field(IvrMenu, "is_active")


class IvrMenuIn(IvrMenuPatch):
    name: str = model_field(IvrMenu, "name", ...)
    source: str = Field(max_length=200_000, description="The menu in YAML or JSON.")


class IvrSourceIn(InputSchema):
    source: str = Field(max_length=200_000, description="The menu in YAML or JSON.")


class IvrProblemOut(Schema):
    line: int | None = Field(description="Line of the problem (1-based).")
    path: list[str] = Field(description="Where in the menu, e.g. [\"nodes\", \"main\", \"options\"].")
    code: str = Field(description="Kind of problem, e.g. missing_target, unreachable.")
    message: str = Field(description="The problem, in the user's language.")


class IvrCheckOut(Schema):
    valid: bool
    problems: list[IvrProblemOut]


class IvrCredentialIn(InputSchema):
    account_number: str = Field(max_length=64, description="What the caller keys in, 4-30 digits.")
    pin: str = Field(max_length=12, description="4-12 digits; stored hashed.")
    contact_id: int | None = Field(None, description="The customer (this or account_id).")
    account_id: int | None = Field(None, description="The customer account.")


class IvrCredentialOut(Schema):
    account_number: str
    contact_id: int | None
    account_id: int | None


@router.get("/ivr-menus", response={200: list[IvrMenuOut], **READ_ERRORS}, summary="List IVR menus")
@paginate(ApiListPagination)
def ivr_menu_list(request):
    return selectors.ivr_menu_list(request.auth)


@router.post("/ivr-menus", response={201: IvrMenuOut, **WRITE_ERRORS}, summary="Create an IVR menu",
             description="The definition is checked (schema, branches, reachability, queues); problems answer 422 "
                         "with one message per problem, each naming its line.")
def ivr_menu_create(request, payload: IvrMenuIn):
    return Status(201, services.ivr_menu_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.post("/ivr-menus/check", response={200: IvrCheckOut, **READ_ERRORS}, summary="Check an IVR definition",
             description="Checks a definition without saving it.")
def ivr_menu_check(request, payload: IvrSourceIn):
    selectors.ivr_menu_list(request.auth)  # the editor's right to read menus
    problems = services.ivr_menu_problems(payload.source)
    return {"valid": not problems, "problems": [
        {"line": problem.line, "path": list(problem.path), "code": problem.code,
         "message": services.problem_message(problem)} for problem in problems]}


@router.get("/ivr-menus/{menu_id}", response={200: IvrMenuOut, **READ_ERRORS}, summary="Read an IVR menu")
def ivr_menu_detail(request, menu_id: int):
    return selectors.access_ivr_menu_by_id(request.auth, menu_id)


@router.patch("/ivr-menus/{menu_id}", response={200: IvrMenuOut, **WRITE_ERRORS}, summary="Change an IVR menu")
def ivr_menu_update(request, menu_id: int, payload: IvrMenuPatch):
    return services.ivr_menu_update(actor=request.auth, menu_id=menu_id, data=payload.dict(exclude_unset=True))


@router.delete("/ivr-menus/{menu_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an IVR menu")
def ivr_menu_delete(request, menu_id: int):
    services.ivr_menu_delete(actor=request.auth, menu_id=menu_id)
    return Status(204, None)


@router.get("/ivr-menus/{menu_id}/twiml", response={200: str, **READ_ERRORS}, summary="The menu as TwiML",
            description="The document Twilio plays when a call reaches the menu; its gathers post to this "
                        "server's Twilio webhook, which runs the rest of the menu.")
def ivr_menu_twiml(request, menu_id: int):
    from django.urls import reverse

    from guanxi.contactcenter.ivr import parse_menu
    from guanxi.contactcenter.ivr.twiml import menu_to_twiml

    menu = selectors.access_ivr_menu_by_id(request.auth, menu_id)
    action_url = request.build_absolute_uri(reverse("contactcenter:twilio_voice"))
    return HttpResponse(menu_to_twiml(parse_menu(menu.source), action_url=action_url),
                        content_type="application/xml; charset=utf-8")


@router.post("/ivr-credentials", response={201: IvrCredentialOut, **WRITE_ERRORS},
             summary="Set a customer's IVR PIN", description="Needs the right to change the customer.")
def ivr_credential_set(request, payload: IvrCredentialIn):
    credential = services.ivr_credential_set(actor=request.auth, **payload.dict())
    return Status(201, credential)


# ======================================================================================
# Calls
# ======================================================================================
class CallEventOut(ModelSchema):
    agent_id: int | None

    class Meta:
        model = CallEvent
        fields = ["id", "kind", "at", "detail"]


class CallOut(ModelSchema):
    contact_id: int | None
    account_id: int | None
    agent_id: int | None
    queue_id: int | None
    disposition_id: int | None
    script_id: int | None

    class Meta:
        model = Call
        fields = ["id", "adapter", "external_id", "media", "ani", "ani_e164", "dnis", "caller_matches", "priority",
                  "ivr_data", "state", "end_reason", "offered_to", "transfer_count", "arrived_at", "queued_at",
                  "answered_at", "ended_at", "wait_seconds", "talk_seconds", "hold_seconds", "wrapup_seconds",
                  "notes", "interaction_id"]


class CallDetailOut(CallOut):
    events: list[CallEventOut]

    @staticmethod
    def resolve_events(call) -> list:
        return list(call.events.order_by("at", "id"))


class CallQuery(Schema):
    state: CallState | None = Field(None, description="Only calls in this state.")
    queue_id: int | None = Field(None, description="Only this queue.")
    agent_id: int | None = Field(None, description="Only calls of this agent (user ID).")
    contact_id: int | None = Field(None, description="Only calls of this contact.")
    since: datetime.datetime | None = Field(None, description="Arrived at or after.")
    until: datetime.datetime | None = Field(None, description="Arrived before.")


class TransferIn(InputSchema):
    queue_id: int | None = Field(None, description="Queue to transfer to (the caller waits there).")
    number: str = Field("", max_length=40, description="Or an outside number (the call leaves).")


class ConferenceIn(InputSchema):
    user_id: int | None = Field(None, description="A colleague to bring in.")
    number: str = Field("", max_length=40, description="Or an outside number.")


class DispositionSetIn(InputSchema):
    disposition_id: int | None = Field(None, description="How the call ended.")
    notes: str | None = Field(None, max_length=10_000, description="The agent's notes.")
    script_id: int | None = Field(None, description="Script the agent followed.")


class LinkContactIn(InputSchema):
    contact_id: int = Field(description="The caller's contact record.")


class NewContactIn(InputSchema):
    full_name: str = Field(max_length=200, description="Name of the caller.")
    email: str = Field("", max_length=254, description="Email address, if given.")


@router.get("/calls", response={200: list[CallOut], **READ_ERRORS}, summary="List calls",
            description="Calls you may see, newest first.")
@paginate(ApiListPagination)
def call_list(request, filters: Query[CallQuery]):
    return selectors.call_list(request.auth, selectors.CallFilters(
        state=filters.state or "", queue_id=filters.queue_id, agent_id=filters.agent_id,
        contact_id=filters.contact_id, since=_aware(filters.since), until=_aware(filters.until)))


@router.get("/calls/{call_id}", response={200: CallDetailOut, **READ_ERRORS}, summary="Read a call",
            description="With its events in order.")
def call_detail(request, call_id: int):
    return selectors.access_call_by_id(request.auth, call_id)


def _call_action(function, request, call_id: int, **kwargs):
    function(actor=request.auth, call_id=call_id, **kwargs)
    return selectors.access_call_by_id(request.auth, call_id)


@router.post("/calls/{call_id}/answer", response={200: CallOut, **WRITE_ERRORS}, summary="Answer a ringing call",
             description="409 when the call no longer rings at you.")
def call_answer(request, call_id: int):
    return _call_action(services.call_answer, request, call_id)


@router.post("/calls/{call_id}/decline", response={200: CallOut, **WRITE_ERRORS}, summary="Decline a ringing call")
def call_decline(request, call_id: int):
    services.call_decline(actor=request.auth, call_id=call_id)
    return Call.objects.get(pk=call_id)


@router.post("/calls/{call_id}/hold", response={200: CallOut, **WRITE_ERRORS}, summary="Put a call on hold")
def call_hold(request, call_id: int):
    return _call_action(services.call_hold, request, call_id)


@router.post("/calls/{call_id}/unhold", response={200: CallOut, **WRITE_ERRORS}, summary="Take a call off hold")
def call_unhold(request, call_id: int):
    return _call_action(services.call_unhold, request, call_id)


@router.post("/calls/{call_id}/transfer", response={200: CallOut, **WRITE_ERRORS}, summary="Transfer a call")
def call_transfer(request, call_id: int, payload: TransferIn):
    services.call_transfer(actor=request.auth, call_id=call_id, queue_id=payload.queue_id, number=payload.number)
    return Call.objects.get(pk=call_id)


@router.post("/calls/{call_id}/conference", response={200: CallOut, **WRITE_ERRORS},
             summary="Bring a third party into a call")
def call_conference(request, call_id: int, payload: ConferenceIn):
    return _call_action(services.call_conference, request, call_id, number=payload.number, user_id=payload.user_id)


@router.post("/calls/{call_id}/hangup", response={200: CallOut, **WRITE_ERRORS}, summary="Hang up a call",
             description="The queue's wrap-up time starts.")
def call_hangup(request, call_id: int):
    return _call_action(services.call_hangup, request, call_id)


@router.post("/calls/{call_id}/disposition", response={200: CallOut, **WRITE_ERRORS},
             summary="Record the disposition and notes", description="Updates the customer's timeline entry once "
                                                                     "the call has ended.")
def call_disposition(request, call_id: int, payload: DispositionSetIn):
    return _call_action(services.call_disposition, request, call_id, disposition_id=payload.disposition_id,
                        notes=payload.notes, script_id=payload.script_id)


@router.post("/calls/{call_id}/contact", response={200: CallOut, **WRITE_ERRORS},
             summary="Attach the caller's contact")
def call_link_contact(request, call_id: int, payload: LinkContactIn):
    return _call_action(services.call_link_contact, request, call_id, contact_id=payload.contact_id)


@router.post("/calls/{call_id}/new-contact", response={201: CallOut, **WRITE_ERRORS},
             summary="Create the caller as a contact", description="With the caller's number, linked to the call.")
def call_create_contact(request, call_id: int, payload: NewContactIn):
    data = {"full_name": payload.full_name, **({"email": payload.email} if payload.email else {})}
    services.call_create_contact(actor=request.auth, call_id=call_id, data=data)
    return Status(201, selectors.access_call_by_id(request.auth, call_id))


@router.get("/desktop", response={200: dict[str, Any], **READ_ERRORS}, summary="My agent desktop",
            description="Your state, the calls ringing at you or in your hands (with their screen pops), calls "
                        "waiting for a disposition, and the dispositions to choose from.")
def desktop(request):
    data = selectors.desktop(request.auth)
    agent = data["agent"]
    return {
        "agent": {"id": agent.pk, "user_id": agent.user_id, "state": agent.state,
                  "state_label": str(agent.get_state_display()), "away_reason": agent.away_reason,
                  "since": agent.state_since.isoformat()},
        "calls": data["calls"],
        "to_finish": [{"call_id": call.pk, "ani": call.ani_e164 or call.ani,
                       "customer": call.contact.full_name if call.contact_id else "",
                       "ended_at": call.ended_at.isoformat() if call.ended_at else None} for call in data["to_finish"]],
        "dispositions": [{"id": item.pk, "label": item.label, "requires_notes": item.requires_notes}
                         for item in data["dispositions"]],
    }


# ======================================================================================
# Telephony events and the phone simulator
# ======================================================================================
class CallReportIn(InputSchema):
    adapter: Literal["simulator", "asterisk", "twilio", "external"] = Field(
        "external", description="Who reports: simulator and twilio calls are routed by Guanxi, the others by the "
                                "telephony system.")
    kind: str = Field(max_length=30, description="offered, queued, ringing, answered, held, unheld, transferred, "
                                                 "conferenced, ended, abandoned or agent_disconnected.")
    call_ref: str = Field(min_length=1, max_length=100, description="The call's ID in the telephony system.")
    event_id: str = Field("", max_length=120, description="The event's ID; a repeat is ignored as a duplicate.")
    at: datetime.datetime | None = Field(None, description="When it happened; defaults to now.")
    ani: str = Field("", max_length=40, description="Caller number.")
    dnis: str = Field("", max_length=40, description="Dialled number.")
    queue: str = Field("", max_length=40, description="Queue code.")
    agent_ref: str = Field("", max_length=60, description="Agent's extension or interface, or username.")
    target: str = Field("", max_length=60, description="Transfer target: queue code, agent extension or number.")

    @field_validator("at")
    @classmethod
    def _aware_at(cls, value):
        return _aware(value)


class CtiLogOut(ModelSchema):
    call_id: int | None

    class Meta:
        model = CtiEventLog
        fields = ["id", "adapter", "event_id", "kind", "call_ref", "outcome", "reason", "received_at"]


@router.post("/cti/events", response={200: CtiLogOut, **WRITE_ERRORS}, summary="Report a telephony event",
             description="Every event is logged with its outcome: applied, recovered (an unknown call recreated), "
                         "duplicate or rejected (out of order, unknown call), with the reason.")
def cti_event(request, payload: CallReportIn):
    data = payload.dict()
    adapter = data.pop("adapter")
    return services.cti_event_receive(actor=request.auth, adapter=adapter, report=services.CallReport(**data))


@router.get("/cti/events", response={200: list[CtiLogOut], **READ_ERRORS}, summary="The telephony event log")
@paginate(ApiListPagination)
def cti_event_list(request, outcome: str = ""):
    return selectors.cti_event_list(request.auth, outcome=outcome)


class SimulatorCallIn(InputSchema):
    ani: str = Field(max_length=40, description="Caller number.")
    dnis: str = Field(max_length=40, description="Number dialled.")


class SimulatorKeysIn(InputSchema):
    digits: str = Field("", max_length=40, description="Keys pressed (0-9, *, #).")
    no_input: bool = Field(False, description="The caller let the prompt time out.")


class SimulatorOut(Schema):
    call: CallOut
    transcript: list[dict[str, Any]] = Field(description="Prompts played and keys received so far.")
    waiting_for_keys: bool = Field(description="The IVR waits for the caller's keys.")


def _simulator_out(call: Call) -> dict:
    call.refresh_from_db()
    session = getattr(call, "ivr_session", None)
    transcript = session.transcript if session is not None else []
    return {"call": call, "transcript": transcript,
            "waiting_for_keys": call.state == CallState.IVR and session is not None and not session.finished}


@router.post("/simulator/calls", response={201: SimulatorOut, **WRITE_ERRORS}, summary="Place a simulated call")
def simulator_call(request, payload: SimulatorCallIn):
    call, _step = services.simulator_call_start(actor=request.auth, ani=payload.ani, dnis=payload.dnis)
    return Status(201, _simulator_out(call))


@router.post("/simulator/calls/{call_id}/keys", response={200: SimulatorOut, **WRITE_ERRORS},
             summary="Press keys in a simulated call")
def simulator_keys(request, call_id: int, payload: SimulatorKeysIn):
    step = services.simulator_keys(actor=request.auth, call_id=call_id, digits=payload.digits,
                                   no_input=payload.no_input)
    return _simulator_out(step.call)


@router.post("/simulator/calls/{call_id}/hangup", response={200: SimulatorOut, **WRITE_ERRORS},
             summary="The simulated caller hangs up")
def simulator_hangup(request, call_id: int):
    log = services.simulator_hang_up(actor=request.auth, call_id=call_id)
    return _simulator_out(Call.objects.get(pk=log.call_id))


# ======================================================================================
# Wallboard, reports, staffing
# ======================================================================================
@router.get("/wallboard", response={200: dict[str, Any], **READ_ERRORS}, summary="Live wallboard figures",
            description="Per queue and overall since the start of today: SL over answered (Asterisk SL) and over "
                        "offered, SL2, ASA, abandonment (short abandons excluded), AHT; queue lengths, longest "
                        "wait, occupancy and agent states.")
def wallboard(request):
    return selectors.wallboard(request.auth)


class ReportQuery(Schema):
    group_by: Literal["interval", "queue", "agent"] = Field("interval", description="How rows are grouped.")
    since: datetime.datetime = Field(description="Calls arrived at or after.")
    until: datetime.datetime = Field(description="Calls arrived before (at most 93 days after since).")
    interval_minutes: int = Field(60, description="15, 30, 60 or 1440 (a day) for interval rows.")
    queue_id: int | None = Field(None, description="Only this queue.")


@router.get("/reports", response={200: list[dict[str, Any]], **READ_ERRORS}, summary="Historical report")
def report(request, query: Query[ReportQuery]):
    return selectors.call_report(request.auth, group_by=query.group_by, since=_aware(query.since),
                                 until=_aware(query.until), interval_minutes=query.interval_minutes,
                                 queue_id=query.queue_id)


class ErlangQuery(Schema):
    calls_per_hour: float = Field(gt=0, le=1_000_000, description="Calls offered per hour.")
    average_handle_time: float = Field(gt=0, le=86_400, description="Seconds per call.")
    target_seconds: float = Field(20, ge=0, le=3_600, description="Answer within this many seconds.")
    agents: int | None = Field(None, ge=1, le=100_000, description="Figures for this many agents; omitted: the "
                                                                    "fewest that reach the goal.")
    service_level: float = Field(0.8, gt=0, lt=1, description="Goal as a fraction, e.g. 0.8.")
    average_patience: float | None = Field(None, gt=0, le=86_400,
                                           description="Mean patience in seconds: Erlang A instead of C.")


@router.get("/erlang", response={200: dict[str, Any], **READ_ERRORS}, summary="Erlang C / Erlang A staffing",
            description="Service level, ASA, occupancy and P(wait) (and P(abandon) with patience) for a number of "
                        "agents, or the agents a goal needs.")
def erlang_figures(request, query: Query[ErlangQuery]):
    from django.core.exceptions import ValidationError

    try:
        if query.agents:
            figures = erlang.staffing_figures(calls_per_hour=query.calls_per_hour,
                                              average_handle_time=query.average_handle_time, agents=query.agents,
                                              target_seconds=query.target_seconds,
                                              average_patience=query.average_patience)
        else:
            figures = erlang.required_agents(calls_per_hour=query.calls_per_hour,
                                             average_handle_time=query.average_handle_time,
                                             target_seconds=query.target_seconds,
                                             service_level=query.service_level,
                                             average_patience=query.average_patience)
    except ValueError as error:
        raise ValidationError({"__all__": [str(error)]}) from None
    return figures.as_dict()
