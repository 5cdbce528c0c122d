"""Assignment through the contact center's ACD engine: queues by category, skills,
round robin that remembers where it stopped, least loaded, capacity limits, experts for
urgent cases, cases waiting until an agent frees up, and manual reassignment with history."""

import pytest
from django.core.exceptions import ValidationError

from guanxi.core.errors import Conflict
from guanxi.core.models import Role
from guanxi.service import case_routing, services
from guanxi.service.models import Case, CaseEvent, CaseStatus, ServiceAgent

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(admin_user, make_user, standard_policy):
    """Three billing agents with skills, and a billing queue that needs billing ≥ 3."""
    agents = [make_user(f"billing-{index}", Role.SERVICE_AGENT) for index in range(1, 4)]
    for agent, level in zip(agents, (8, 5, 3)):
        services.agent_save(actor=admin_user, user_id=agent.pk, data={"skills": {"billing": level},
                                                                      "max_open_cases": 2})
    novice = make_user("billing-novice", Role.SERVICE_AGENT)
    services.agent_save(actor=admin_user, user_id=novice.pk, data={"skills": {"billing": 2}})

    def queue(strategy: str, **extra):
        return services.queue_create(actor=admin_user, data={
            "code": "billing", "name": "Billing", "strategy": strategy, "required_skills": {"billing": 3},
            "categories": ["billing"], **extra})

    return agents, novice, queue


def _open(agent_user, customer, subject="Invoice question", **extra):
    return services.case_open(actor=agent_user, data={"subject": subject, "contact_id": customer.pk,
                                                      "category": "billing", **extra})


def test_round_robin_takes_turns_and_remembers_across_passes(desk, customer, admin_user):
    agents, novice, queue = desk
    queue("rrmemory")
    assignees = [_open(admin_user, customer).assignee_id for _ in range(4)]
    # each case is routed in its own pass; the rotation carries on from the stored last agent
    assert assignees == [agents[0].pk, agents[1].pk, agents[2].pk, agents[0].pk]
    assert novice.pk not in assignees  # billing level 2 is below the queue's requirement


def test_least_loaded_prefers_the_agent_with_the_smallest_share_in_use(desk, customer, admin_user):
    agents, _novice, queue = desk
    queue("least-loaded")
    busy = _open(admin_user, customer, assignee_id=agents[0].pk)
    assert busy.assignee_id == agents[0].pk
    routed = [_open(admin_user, customer).assignee_id for _ in range(2)]
    assert set(routed) == {agents[1].pk, agents[2].pk}


def test_full_agents_get_nothing_and_cases_wait_until_capacity_frees(desk, customer, admin_user):
    agents, _novice, queue = desk
    queue("least-loaded")
    cases = [_open(admin_user, customer) for _ in range(7)]  # 3 agents × 2 = 6 places
    waiting = cases[-1]
    assert waiting.assignee_id is None and waiting.queued_at is not None
    assert sorted(Case.objects.exclude(pk=waiting.pk).values_list("assignee_id", flat=True)) == sorted(
        [agent.pk for agent in agents] * 2)
    # when one agent resolves a case, the waiting case goes to that agent
    freed = cases[0]
    services.case_change_status(actor=freed.assignee, case_id=freed.pk, status=CaseStatus.RESOLVED)
    waiting.refresh_from_db()
    assert waiting.assignee_id == freed.assignee_id and waiting.queued_at is None
    assert CaseEvent.objects.filter(case=waiting, kind="assigned", detail__contains="Billing").exists()


def test_agents_not_accepting_cases_are_skipped_and_routed_when_back(desk, customer, admin_user):
    agents, _novice, queue = desk
    queue("rrmemory")
    for agent in agents:
        ServiceAgent.objects.filter(user=agent).update(accepting_cases=False)
    case = _open(admin_user, customer)
    assert case.assignee_id is None
    services.agent_set_availability(actor=agents[1], accepting=True)
    case.refresh_from_db()
    assert case.assignee_id == agents[1].pk


def test_urgent_cases_for_gold_customers_go_to_the_most_skilled_free_agent(desk, customer, admin_user):
    agents, _novice, queue = desk
    queue("rrmemory", experts_from_priority="urgent")
    _open(admin_user, customer)  # round robin gives this one to agent 1 (level 8)
    urgent = _open(admin_user, customer, priority="urgent")
    assert urgent.assignee_id == agents[0].pk  # still the expert, not the next in turn


def test_waiting_cases_are_served_by_priority_then_tier_then_age():
    queue = case_routing.QueueSnapshot("q", "rrmemory", {"billing": 1}, "", None)
    agent = case_routing.AgentSnapshot(7, {"billing": 5}, capacity=2, accepting=True, open_cases=0, penalty=None,
                                       last_assigned_at=0.0)
    waiting = [case_routing.WaitingCase(1, "normal", "", 100.0), case_routing.WaitingCase(2, "normal", "gold", 200.0),
               case_routing.WaitingCase(3, "high", "", 300.0), case_routing.WaitingCase(4, "normal", "", 50.0)]
    assert case_routing.decide_assignments(queue, [agent], waiting) == [(3, 7), (2, 7)]


def test_explicit_members_with_penalties_are_tried_after_lower_penalties(admin_user, make_user, customer,
                                                                          standard_policy):
    primary, backup = make_user("primary", Role.SERVICE_AGENT), make_user("backup", Role.SERVICE_AGENT)
    queue = services.queue_create(actor=admin_user, data={"code": "vip", "name": "VIP", "strategy": "linear"})
    services.agent_save(actor=admin_user, user_id=backup.pk, data={"queues": [{"queue_id": queue.pk, "penalty": 5}],
                                                                   "max_open_cases": 5})
    services.agent_save(actor=admin_user, user_id=primary.pk, data={"queues": [{"queue_id": queue.pk, "penalty": 0}],
                                                                    "max_open_cases": 1})
    first = _open(admin_user, customer, queue_id=queue.pk)
    second = _open(admin_user, customer, queue_id=queue.pk)
    assert (first.assignee_id, second.assignee_id) == (primary.pk, backup.pk)


def test_manual_reassignment_is_kept_in_the_history(desk, customer, admin_user, agent):
    agents, _novice, queue = desk
    billing = queue("rrmemory")
    case = _open(admin_user, customer)
    services.case_assign(actor=agent, case_id=case.pk, assignee_id=agent.pk, note="I know this customer")
    case.refresh_from_db()
    assert case.assignee_id == agent.pk and case.status == CaseStatus.OPEN
    services.case_assign(actor=agent, case_id=case.pk, queue_id=billing.pk, note="Back to billing")
    case.refresh_from_db()
    assert case.assignee_id == agents[1].pk
    history = list(CaseEvent.objects.filter(case=case, kind__in=["assigned", "queued"])
                   .values_list("kind", "to_value", "detail"))
    # queued and routed when opened, taken by hand, put back, routed again
    assert [row[:2] for row in history] == [("queued", "Billing"), ("assigned", str(agents[0])),
                                            ("assigned", str(agent)), ("queued", "Billing"),
                                            ("assigned", str(agents[1]))]
    assert history[2][2] == "I know this customer"


def test_reassignment_refuses_people_who_cannot_work_cases_and_closed_cases(desk, customer, admin_user, make_user):
    _agents, _novice, queue = desk
    queue("rrmemory")
    case = _open(admin_user, customer)
    marketer = make_user("marketer", Role.MARKETER)
    with pytest.raises(ValidationError):
        services.case_assign(actor=admin_user, case_id=case.pk, assignee_id=marketer.pk)
    services.case_change_status(actor=admin_user, case_id=case.pk, status=CaseStatus.RESOLVED)
    with pytest.raises(Conflict):
        services.case_assign(actor=admin_user, case_id=case.pk, assignee_id=admin_user.pk)
    case.refresh_from_db()
    assert case.assignee_id != marketer.pk and case.status == CaseStatus.RESOLVED


def test_invalid_skills_are_refused_when_saved(admin_user, agent):
    with pytest.raises(ValidationError) as error:
        services.agent_save(actor=admin_user, user_id=agent.pk, data={"skills": {"billing": 11, "network": "x"}})
    assert "skills" in error.value.message_dict
    assert not ServiceAgent.objects.filter(user=agent).exists()
