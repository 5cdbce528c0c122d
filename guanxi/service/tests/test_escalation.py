"""SLA warnings and breaches fire on time, once, with their escalation rules (reassign,
notify, raise priority), from the periodic sweep the job system's scheduler runs even
with zero services configured."""

import datetime as dt

import pytest

from guanxi.core.models import AuditLog, Role
from guanxi.service import services
from guanxi.service.models import Case, CaseEvent, CaseStatus, ServiceNotification

from .conftest import SHANGHAI

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(make_user):
    return make_user("supervisor-zhao", Role.SUPERVISOR)


@pytest.fixture
def escalating_policy(admin_user, standard_policy, supervisor, make_user):
    """Warn the assignee at 75 %; on a resolution breach raise the priority, escalate,
    hand the case to the senior agent and tell the supervisor."""
    senior = make_user("senior-chen", Role.SERVICE_AGENT)
    services.sla_policy_update(actor=admin_user, policy_id=standard_policy.pk, data={"escalation_rules": [
        {"trigger": "resolution_warning", "mark_escalated": False, "notify_assignee": True},
        {"trigger": "resolution_breach", "raise_priority": True, "mark_escalated": True, "reassign_to_id": senior.pk,
         "notify_assignee": True, "notify_user_ids": [supervisor.pk]},
    ]})
    return senior


def test_nothing_fires_before_its_time(open_case, agent, clock):
    case = open_case(assignee_id=agent.pk)
    clock.set(2026, 3, 2, 10, 44)
    assert services.sla_sweep() == {"first_response_warning": 0, "resolution_warning": 0,
                                    "first_response_breach": 0, "resolution_breach": 0}
    case.refresh_from_db()
    assert not (case.first_response_warned or case.first_response_breached)


def test_first_response_warning_then_breach_fire_once_each(open_case, agent, clock):
    # given a case opened Monday 10:00 with 1 working hour to the first reply (warning at 75 %)
    case = open_case(assignee_id=agent.pk)
    # when the sweep runs at 10:45 and again at 10:46
    clock.set(2026, 3, 2, 10, 45)
    assert services.sla_sweep()["first_response_warning"] == 1
    clock.set(2026, 3, 2, 10, 46)
    assert services.sla_sweep()["first_response_warning"] == 0
    # then the warning fired once, the assignee was told, and nothing was breached yet
    case.refresh_from_db()
    assert case.first_response_warned and not case.first_response_breached
    assert CaseEvent.objects.filter(case=case, kind="sla_warning").count() == 1
    assert ServiceNotification.objects.filter(recipient=agent, case=case, kind="first_response_warning").count() == 1
    # when 11:00 passes with no reply, the breach fires
    clock.set(2026, 3, 2, 11, 1)
    assert services.sla_sweep()["first_response_breach"] == 1
    case.refresh_from_db()
    assert case.first_response_breached
    assert AuditLog.objects.filter(object_type="case", object_id=str(case.pk), action="update").exists()


def test_a_replied_case_gets_no_first_response_breach(open_case, agent, clock):
    case = open_case(assignee_id=agent.pk)
    clock.advance(minutes=10)
    services.case_reply(actor=agent, case_id=case.pk, body="Looking into it")
    clock.set(2026, 3, 2, 12, 0)
    assert services.sla_sweep()["first_response_breach"] == 0
    case.refresh_from_db()
    assert not case.first_response_breached


def test_resolution_breach_escalates_reassigns_raises_priority_and_notifies(
        open_case, agent, clock, escalating_policy, supervisor):
    senior = escalating_policy
    case = open_case(assignee_id=agent.pk)
    services.case_reply(actor=agent, case_id=case.pk, body="Checking")
    # the 8 working hours run out on Tuesday 10:00 (warning at 6 h: Monday 17:00)
    clock.set(2026, 3, 2, 17, 0)
    services.sla_sweep()
    case.refresh_from_db()
    assert case.resolution_warned and case.status == CaseStatus.OPEN and case.assignee_id == agent.pk
    clock.set(2026, 3, 3, 10, 0, 30)
    fired = services.sla_sweep()
    assert fired["resolution_breach"] == 1
    case.refresh_from_db()
    assert case.resolution_breached
    assert (case.status, case.priority, case.assignee_id) == (CaseStatus.ESCALATED, "high", senior.pk)
    assert case.escalation_level == 1 and case.escalated_at == clock.now
    notified = set(ServiceNotification.objects.filter(case=case, kind="resolution_breach")
                   .values_list("recipient__username", flat=True))
    assert notified == {"agent-li", "senior-chen", "supervisor-zhao"}
    history = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert history[-4:] == ["sla_breach", "priority", "escalated", "assigned"]


def test_breach_moves_the_case_to_another_queue_through_the_router(
        open_case, agent, clock, admin_user, standard_policy, make_user):
    expert = make_user("expert-wu", Role.SERVICE_AGENT)
    experts = services.queue_create(actor=admin_user, data={"code": "tier2", "name": "Tier 2"})
    services.agent_save(actor=admin_user, user_id=expert.pk, data={"queues": [{"queue_id": experts.pk}]})
    services.sla_policy_update(actor=admin_user, policy_id=standard_policy.pk, data={"escalation_rules": [
        {"trigger": "first_response_breach", "reassign_queue_id": experts.pk, "mark_escalated": True}]})
    case = open_case(assignee_id=agent.pk)
    clock.set(2026, 3, 2, 11, 5)
    services.sla_sweep()
    case.refresh_from_db()
    assert (case.queue_id, case.assignee_id, case.status) == (experts.pk, expert.pk, CaseStatus.ESCALATED)


def test_pending_cases_do_not_breach_while_paused(open_case, agent, clock):
    case = open_case(assignee_id=agent.pk)
    services.case_reply(actor=agent, case_id=case.pk, body="Please send a photo of the router",
                        new_status=CaseStatus.PENDING_CUSTOMER)
    clock.set(2026, 3, 10, 10, 0)
    assert services.sla_sweep()["resolution_breach"] == 0
    case.refresh_from_db()
    assert not case.resolution_breached and case.resolution_due_at is None


def test_the_sweep_is_a_periodic_task_of_the_in_process_scheduler(open_case, agent, clock, settings):
    """`guanxi serve` runs Huey's consumer with its scheduler in-process; the scheduler
    runs every periodic task whose crontab matches the minute. The SLA sweep matches
    every minute and, executed, escalates what is due."""
    from huey.contrib.djhuey import HUEY

    case = open_case(assignee_id=agent.pk)
    clock.set(2026, 3, 2, 11, 3)
    # the scheduler asks which periodic tasks are due at 11:03 (03:03 UTC, Huey's clock)
    due = {task.name: task for task in HUEY.read_periodic(dt.datetime(2026, 3, 2, 3, 3))}
    assert "sla_sweep_every_minute" in due
    HUEY.execute(due["sla_sweep_every_minute"])
    case.refresh_from_db()
    assert case.first_response_breached


def test_changing_the_calendar_moves_open_deadlines(open_case, admin_user, office_hours, clock):
    case = open_case()
    services.calendar_update(actor=admin_user, calendar_id=office_hours.pk, data={
        "weekly_hours": {day: "10:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}})
    case.refresh_from_db()
    assert case.first_response_due_at == dt.datetime(2026, 3, 2, 11, 0, tzinfo=SHANGHAI)
    assert case.resolution_due_at == dt.datetime(2026, 3, 2, 18, 0, tzinfo=SHANGHAI)
    assert Case.objects.count() == 1
