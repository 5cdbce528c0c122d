"""Lead scoring: administrator-defined rules on fields and behaviour, recomputed when the
lead, its behaviour or the rules change."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from guanxi.sales import services
from guanxi.sales.models import Lead, LeadBehaviour, LeadScoringRule

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def rules(admin_user):
    services.scoring_rule_create(actor=admin_user, data={"name": "Web form", "kind": "field", "field_name": "source",
                                                         "operator": "equals", "value": "web_form", "points": 10})
    services.scoring_rule_create(actor=admin_user, data={"name": "Boss", "kind": "field", "field_name": "job_title",
                                                         "operator": "contains", "value": "总", "points": 15})
    services.scoring_rule_create(actor=admin_user, data={"name": "Big", "kind": "field",
                                                         "field_name": "estimated_amount", "operator": "at_least",
                                                         "value": "100000", "points": 20})
    services.scoring_rule_create(actor=admin_user, data={"name": "Pricing page", "kind": "behaviour",
                                                         "behaviour_kind": "page_view", "min_count": 3,
                                                         "within_days": 30, "points": 25})


def test_field_rules_score_a_new_lead(api_client, rules):
    response = post(api_client, "/api/v1/sales/leads", {"full_name": "李总", "job_title": "总经理", "source": "web_form",
                                                        "email": "li@x.example", "estimated_amount": "50000"})
    assert response.status_code == 201
    assert response.json()["score"] == 25
    assert Lead.objects.get(pk=response.json()["id"]).score == 25


def test_the_score_follows_changes_to_the_lead(api_client, rules):
    lead_id = post(api_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]
    assert Lead.objects.get(pk=lead_id).score == 0
    api_client.patch(f"/api/v1/sales/leads/{lead_id}", {"estimated_amount": "250000"},
                     content_type="application/json")
    assert Lead.objects.get(pk=lead_id).score == 20


def test_behaviour_counts_only_recent_and_only_enough_of_it(api_client, rules):
    lead_id = post(api_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]
    old = (timezone.now() - datetime.timedelta(days=60)).isoformat()
    post(api_client, f"/api/v1/sales/leads/{lead_id}/behaviour", {"kind": "page_view", "occurred_at": old})
    for _ in range(2):
        response = post(api_client, f"/api/v1/sales/leads/{lead_id}/behaviour",
                        {"kind": "page_view", "detail": "/pricing"})
    assert response.status_code == 201 and response.json()["score"] == 0  # two recent views are not three
    third = post(api_client, f"/api/v1/sales/leads/{lead_id}/behaviour", {"kind": "page_view"})
    assert third.json()["score"] == 25
    assert Lead.objects.get(pk=lead_id).score == 25
    assert LeadBehaviour.objects.filter(lead_id=lead_id).count() == 4


def test_unknown_behaviour_is_refused(api_client):
    lead_id = post(api_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]
    response = post(api_client, f"/api/v1/sales/leads/{lead_id}/behaviour", {"kind": "telepathy"})
    assert response.status_code == 422
    assert not LeadBehaviour.objects.exists()


def test_changing_the_rules_rescores_open_leads(api_client, rules, django_capture_on_commit_callbacks):
    lead_id = post(api_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example",
                                                       "city": "上海"}).json()["id"]
    assert Lead.objects.get(pk=lead_id).score == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client, "/api/v1/sales/scoring-rules", {
            "name": "Shanghai", "kind": "field", "field_name": "city", "operator": "equals", "value": "上海",
            "points": 7})
    assert response.status_code == 201
    assert Lead.objects.get(pk=lead_id).score == 7

    rule_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch(f"/api/v1/sales/scoring-rules/{rule_id}", {"points": -3}, content_type="application/json")
    assert Lead.objects.get(pk=lead_id).score == -3

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/v1/sales/scoring-rules/{rule_id}").status_code == 204
    assert Lead.objects.get(pk=lead_id).score == 0


def test_a_rule_must_say_what_it_looks_at(api_client):
    field_rule = post(api_client, "/api/v1/sales/scoring-rules", {"name": "x", "kind": "field", "points": 1})
    behaviour_rule = post(api_client, "/api/v1/sales/scoring-rules", {"name": "y", "kind": "behaviour", "points": 1})
    assert field_rule.status_code == 422 and "field_name" in field_rule.json()["errors"]
    assert behaviour_rule.status_code == 422 and "behaviour_kind" in behaviour_rule.json()["errors"]
    assert not LeadScoringRule.objects.exists()


def test_reps_read_but_do_not_change_the_rules(rep_client, rules):
    assert rep_client.get("/api/v1/sales/scoring-rules").status_code == 200
    response = post(rep_client, "/api/v1/sales/scoring-rules", {"name": "z", "kind": "field", "field_name": "city",
                                                                "points": 100})
    assert response.status_code == 403
    assert LeadScoringRule.objects.count() == 4
