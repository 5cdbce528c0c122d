"""Queues, skills, agents, dispositions and scripts through the API: created, validated
field by field, changed under the running engine, and protected once they have history."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services
from guanxi.contactcenter.models import AgentProfile, AgentSkill, Call, Queue, QueueMembership, Script, Skill

pytestmark = pytest.mark.django_db
API = "/api/v1/contact-center"


@pytest.fixture
def supervisor(make_user):
    return make_user("boss", "supervisor")


@pytest.fixture
def api(client_for, supervisor):
    return client_for(supervisor)


def post(client, path, body):
    return client.post(API + path, body, content_type="application/json")


def patch(client, path, body):
    return client.patch(API + path, body, content_type="application/json")


def test_a_queue_with_escalation_and_overflow_is_created(api):
    post(api, "/skills", {"code": "billing", "name": "Billing"})
    spill = post(api, "/queues", {"code": "spill", "name": "Spill-over"}).json()

    response = post(api, "/queues", {
        "code": "billing", "name": "Billing", "strategy": "rrmemory", "numbers": ["95555", "+86 10 9555 5"],
        "required_skills": {"billing": 3}, "penalty_from_skill_level": True, "initial_max_penalty": 4,
        "penalty_rules": [{"after_seconds": 30, "max_penalty": 9}], "overflow_after_seconds": 120,
        "overflow_queue_id": spill["id"], "wrapup_seconds": 15, "service_level_seconds": 30,
        "short_abandon_seconds": 8})

    assert response.status_code == 201, response.content
    queue = Queue.objects.get(code="billing")
    assert queue.numbers == ["95555", "+861095555"]
    assert queue.penalty_rules == [{"after_seconds": 30.0, "max_penalty": 9}]
    assert (queue.overflow_queue_id, queue.short_abandon_seconds) == (spill["id"], 8)


@pytest.mark.parametrize(("body", "field"), [
    ({"required_skills": {"nosuch": 3}}, "required_skills"),
    ({"required_skills": {"billing": 11}}, "required_skills"),
    ({"strategy": "fastest"}, "strategy"),
    ({"overflow_after_seconds": 60}, "overflow_after_seconds"),
    ({"numbers": ["not a number"]}, "numbers"),
    ({"service_level_goal": 100}, "service_level_goal"),
    ({"join_empty": ["sleepy"]}, "join_empty"),
    ({"penalty_rules": [{"after_seconds": -1}]}, "penalty_rules.0.after_seconds"),
])
def test_a_bad_queue_is_refused_field_by_field(api, body, field):
    post(api, "/skills", {"code": "billing", "name": "Billing"})

    response = post(api, "/queues", {"code": "bad", "name": "Bad", **body})

    assert response.status_code == 422, response.content
    assert field in response.json()["errors"], response.json()
    assert not Queue.objects.filter(code="bad").exists()


def test_two_queues_cannot_answer_the_same_number(api):
    post(api, "/queues", {"code": "one", "name": "One", "numbers": ["95555"]})

    response = post(api, "/queues", {"code": "two", "name": "Two", "numbers": ["95555"]})

    assert response.status_code == 422 and "numbers" in response.json()["errors"]


def test_overflows_may_not_form_a_cycle(api):
    first = post(api, "/queues", {"code": "first", "name": "First"}).json()
    second = post(api, "/queues", {"code": "second", "name": "Second", "overflow_queue_id": first["id"],
                                   "overflow_after_seconds": 60}).json()

    response = patch(api, f"/queues/{first['id']}", {"overflow_queue_id": second["id"], "overflow_after_seconds": 60})

    assert response.status_code == 422 and "overflow_queue_id" in response.json()["errors"]
    assert Queue.objects.get(pk=first["id"]).overflow_queue_id is None


def test_changing_a_queue_changes_routing_at_once(center, api):
    queue = center.queue("billing", numbers=["95555"])
    ana = center.agent("ana", skills={"billing": 2})
    response = patch(api, f"/queues/{queue.pk}", {"required_skills": {"billing": 5}})
    assert response.status_code == 200

    call = center.call(dnis="95555")

    assert Call.objects.get(pk=call.pk).state == "queued"  # Ana's level 2 no longer qualifies
    assert AgentProfile.objects.get(user=ana).state == "available"


def test_a_queue_that_took_calls_is_kept(center, api):
    queue = center.queue("billing", numbers=["95555"])
    center.call(dnis="95555")

    response = api.delete(f"{API}/queues/{queue.pk}")
    renamed = patch(api, f"/queues/{queue.pk}", {"code": "renamed"})

    assert response.status_code == 409 and renamed.status_code == 422
    assert Queue.objects.filter(pk=queue.pk, code="billing").exists()


def test_an_agent_is_set_up_with_skills_and_memberships(api, make_user):
    user = make_user("ana", "cc_agent")
    post(api, "/skills", {"code": "billing", "name": "Billing"})
    queue = post(api, "/queues", {"code": "vip", "name": "VIP"}).json()

    response = post(api, "/agents", {"user_id": user.pk, "extension": "PJSIP/1001", "skills": {"billing": 7},
                                      "memberships": [{"queue_id": queue["id"], "penalty": 2, "position": 1}]})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["skills"] == {"billing": 7} and body["memberships"][0]["queue"] == "vip"
    agent = AgentProfile.objects.get(user=user)
    assert AgentSkill.objects.get(agent=agent).level == 7
    assert QueueMembership.objects.get(agent=agent).penalty == 2
    assert agent.state == "logged_out"


def test_bad_agent_input_changes_nothing(api, make_user):
    user = make_user("ana", "cc_agent")
    post(api, "/skills", {"code": "billing", "name": "Billing"})

    unknown_skill = post(api, "/agents", {"user_id": user.pk, "skills": {"french": 5}})
    unknown_user = post(api, "/agents", {"user_id": 99999})
    bad_membership = post(api, "/agents", {"user_id": user.pk, "memberships": [{"queue_id": 4242}]})

    assert unknown_skill.status_code == 422 and "skills" in unknown_skill.json()["errors"]
    assert unknown_user.status_code == 422 and "user_id" in unknown_user.json()["errors"]
    assert bad_membership.status_code == 422 and "memberships" in bad_membership.json()["errors"]
    assert not AgentProfile.objects.exists()


def test_a_logged_in_agent_cannot_be_removed(center, api):
    ana = center.agent("ana")
    profile = AgentProfile.objects.get(user=ana)

    response = api.delete(f"{API}/agents/{profile.pk}")

    assert response.status_code == 409 and AgentProfile.objects.filter(pk=profile.pk).exists()


def test_a_skill_in_use_cannot_be_removed(center, api):
    center.queue("billing")

    response = api.delete(f"{API}/skills/{Skill.objects.get(code='billing').pk}")

    assert response.status_code == 409 and Skill.objects.filter(code="billing").exists()


def test_scripts_and_dispositions_are_managed_by_supervisors_only(center, api, client_for):
    ana = center.agent("ana")
    created = post(api, "/scripts", {"name": "Greeting", "body": "Hello {name}, how can I help?"})
    refused = post(client_for(ana), "/scripts", {"name": "Mine", "body": "…"})
    listed = client_for(ana).get(API + "/scripts")

    assert created.status_code == 201 and refused.status_code == 403
    assert [item["name"] for item in listed.json()["items"]] == ["Greeting"]
    assert list(Script.objects.values_list("name", flat=True)) == ["Greeting"]
    services.disposition_create(actor=None, data={"code": "sale", "label": "Sale"})
    assert post(client_for(ana), "/dispositions", {"code": "x", "label": "X"}).status_code == 403
