"""Complaints as a tracked process: received → investigating → corrective action →
verifying → closed, with root cause and corrective action required on the way."""

import pytest

from guanxi.service import services
from guanxi.service.models import Complaint, ComplaintStep

pytestmark = pytest.mark.django_db
API = "/api/v1/service/complaints"


@pytest.fixture
def complaint(api_client, open_case):
    case = open_case()
    response = api_client.post(API, {"case_id": case.pk, "subject": "Technician was rude",
                                     "description": "He shouted at my mother.", "severity": "high"},
                               content_type="application/json")
    assert response.status_code == 201
    return response.json()


def test_a_complaint_from_a_case_takes_its_customer_and_gets_a_due_date(complaint, customer, clock):
    stored = Complaint.objects.get(pk=complaint["id"])
    assert stored.number.startswith("CP-2026-") and stored.contact_id == customer.pk
    assert stored.account_id == customer.account_id and stored.status == "received"
    assert str(stored.due_on) == "2026-03-07"  # high severity: answered within 5 days
    assert [step["to_status"] for step in complaint["steps"]] == ["received"]


def test_the_process_needs_a_root_cause_before_action(api_client, complaint):
    path = f"{API}/{complaint['id']}"
    assert api_client.patch(path, {"status": "investigating"}, content_type="application/json").status_code == 200
    refused = api_client.patch(path, {"status": "action"}, content_type="application/json")
    assert refused.status_code == 422 and "root_cause" in refused.json()["errors"]
    assert Complaint.objects.get(pk=complaint["id"]).status == "investigating"
    moved = api_client.patch(path, {"status": "action", "root_cause": "No de-escalation training",
                                    "note": "Interviewed the technician"}, content_type="application/json")
    assert moved.status_code == 200


def test_a_complaint_runs_through_to_closed_with_every_step_kept(api_client, complaint):
    path = f"{API}/{complaint['id']}"
    for body in ({"status": "investigating"},
                 {"status": "action", "root_cause": "Overbooked technician"},
                 {"status": "verifying", "corrective_action": "Apology visit and a refund",
                  "preventive_action": "Cap of 6 visits a day"},
                 {"status": "closed", "note": "Customer confirmed satisfaction"}):
        response = api_client.patch(path, body, content_type="application/json")
        assert response.status_code == 200, response.content
    stored = Complaint.objects.get(pk=complaint["id"])
    assert stored.status == "closed" and stored.closed_at is not None
    steps = list(ComplaintStep.objects.filter(complaint=stored).values_list("from_status", "to_status"))
    assert steps == [("", "received"), ("received", "investigating"), ("investigating", "action"),
                     ("action", "verifying"), ("verifying", "closed")]


def test_skipping_steps_is_refused(api_client, complaint):
    response = api_client.patch(f"{API}/{complaint['id']}", {"status": "verifying"}, content_type="application/json")
    assert response.status_code == 422 and "status" in response.json()["errors"]
    assert Complaint.objects.get(pk=complaint["id"]).status == "received"


def test_a_complaint_needs_a_customer(api_client):
    response = api_client.post(API, {"subject": "Who?", "description": "Anonymous"}, content_type="application/json")
    assert response.status_code == 422 and "contact_id" in response.json()["errors"]
    assert not Complaint.objects.exists()


def test_stale_edits_are_refused(api_client, complaint):
    path = f"{API}/{complaint['id']}"
    api_client.patch(path, {"root_cause": "First finding"}, content_type="application/json")
    stale = api_client.patch(path, {"root_cause": "Second", "version": 1}, content_type="application/json")
    assert stale.status_code == 409
    assert Complaint.objects.get(pk=complaint["id"]).root_cause == "First finding"


def test_the_owner_is_notified_when_given_a_complaint(admin_user, agent, customer):
    from guanxi.service.models import ServiceNotification

    complaint = services.complaint_create(actor=admin_user, data={
        "contact_id": customer.pk, "subject": "Billing error again", "description": "Third time",
        "owner_id": agent.pk})
    assert complaint.owner_id == agent.pk
    assert ServiceNotification.objects.filter(recipient=agent, kind="complaint").count() == 1
