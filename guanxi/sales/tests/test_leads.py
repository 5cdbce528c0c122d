"""Leads entered by hand through the API: validation, normalization, edits, qualification."""

from __future__ import annotations

import pytest

from guanxi.core.models import AuditLog
from guanxi.sales.models import Lead, LeadStatus

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_a_lead_is_stored_normalized_and_owned_by_its_creator(rep_client, rep):
    response = post(rep_client, "/api/v1/sales/leads", {
        "family_name": "张", "given_name": "伟", "company": "嘉禾商贸", "phone": "0138-0013-8001",
        "email": " Zhang.Wei@JiaHe.example ", "source": "phone"})
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["id"])
    assert (lead.full_name, lead.phone, lead.email) == ("张伟", "+8613800138001", "zhang.wei@jiahe.example")
    assert lead.owner_id == rep.pk and lead.team_id == rep.team_id and lead.status == LeadStatus.NEW
    assert AuditLog.objects.filter(object_type="lead", object_id=str(lead.pk), action="create").exists()


def test_a_lead_without_a_name_or_a_way_to_reach_it_is_refused(rep_client):
    response = post(rep_client, "/api/v1/sales/leads", {"company": "No one Ltd"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"full_name", "email"}
    assert not Lead.objects.exists()


def test_a_bad_phone_and_a_bad_email_are_both_reported(rep_client):
    response = post(rep_client, "/api/v1/sales/leads", {"full_name": "Bad", "phone": "12345", "email": "not-an-email"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"phone", "email"}
    assert not Lead.objects.exists()


def test_the_external_id_is_unique(api_client):
    assert post(api_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example",
                                                    "external_id": "CRM-1"}).status_code == 201
    response = post(api_client, "/api/v1/sales/leads", {"full_name": "B", "email": "b@x.example",
                                                        "external_id": "CRM-1"})
    assert response.status_code == 422 and "external_id" in response.json()["errors"]
    assert Lead.objects.count() == 1


def test_a_stale_edit_is_refused(rep_client):
    lead_id = post(rep_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]
    assert rep_client.patch(f"/api/v1/sales/leads/{lead_id}", {"company": "One", "version": 1},
                            content_type="application/json").status_code == 200
    stale = rep_client.patch(f"/api/v1/sales/leads/{lead_id}", {"company": "Two", "version": 1},
                             content_type="application/json")
    assert stale.status_code == 409
    assert Lead.objects.get(pk=lead_id).company == "One"


def test_disqualify_needs_a_reason_and_qualify_records_the_status(rep_client):
    lead_id = post(rep_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]

    missing = post(rep_client, f"/api/v1/sales/leads/{lead_id}/disqualify", {})
    other_without_note = post(rep_client, f"/api/v1/sales/leads/{lead_id}/disqualify", {"reason": "other"})
    assert missing.status_code == 422 and other_without_note.status_code == 422
    assert Lead.objects.get(pk=lead_id).status == LeadStatus.NEW

    dropped = post(rep_client, f"/api/v1/sales/leads/{lead_id}/disqualify", {"reason": "no_budget", "note": "2027"})
    assert dropped.status_code == 200
    lead = Lead.objects.get(pk=lead_id)
    assert (lead.status, lead.disqualify_reason, lead.status_note) == (LeadStatus.DISQUALIFIED, "no_budget", "2027")

    back = rep_client.patch(f"/api/v1/sales/leads/{lead_id}", {"status": "working"}, content_type="application/json")
    assert back.status_code == 200
    assert post(rep_client, f"/api/v1/sales/leads/{lead_id}/qualify", {"note": "budget confirmed"}).status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason, lead.status_note) == (LeadStatus.QUALIFIED, "", "budget confirmed")


def test_status_converted_cannot_be_set_by_hand(rep_client):
    lead_id = post(rep_client, "/api/v1/sales/leads", {"full_name": "A", "email": "a@x.example"}).json()["id"]
    response = rep_client.patch(f"/api/v1/sales/leads/{lead_id}", {"status": "converted"},
                                content_type="application/json")
    assert response.status_code == 422
    assert Lead.objects.get(pk=lead_id).status == LeadStatus.NEW


def test_the_list_filters_by_status_and_search(rep_client):
    post(rep_client, "/api/v1/sales/leads", {"full_name": "王芳", "company": "星河物流", "email": "a@x.example"})
    post(rep_client, "/api/v1/sales/leads", {"full_name": "Anna", "company": "Contoso", "email": "b@x.example"})
    found = rep_client.get("/api/v1/sales/leads", {"q": "星河"}).json()["items"]
    assert [item["full_name"] for item in found] == ["王芳"]
    assert rep_client.get("/api/v1/sales/leads", {"status": "qualified"}).json()["items"] == []
