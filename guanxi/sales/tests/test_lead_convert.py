"""Converting a lead: account + contact + opportunity in one step, keeping the campaign and
the lead's history; refused (with nothing created) when converted before, disqualified,
matching existing records, or when part of it is invalid."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from guanxi.core.models import Account, AuditLog, Contact
from guanxi.interactions.models import Interaction
from guanxi.sales import services
from guanxi.sales.models import Activity, Lead, LeadStatus, Opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_lead(rep):
    return services.lead_create(actor=None, data={
        "family_name": "李", "given_name": "娜", "company": "博雅教育科技", "job_title": "总经理",
        "email": "Li.Na@Boya.example", "phone": "139 1234 5678", "city": "上海", "source": "web_form",
        "campaign_id": 77, "campaign_name": "Spring 5G promotion", "estimated_amount": "80000",
        "description": "Needs 20 mobile plans."})


def counts() -> tuple[int, int, int]:
    return Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()


def test_convert_creates_account_contact_and_opportunity_keeping_the_campaign(api_client, web_lead, rep):
    # given a lead from the web form with a task already done and one planned
    done = services.activity_create(actor=rep, data={"kind": "call", "subject": "First call", "lead_id": web_lead.pk,
                                                     "start_at": timezone.now() - datetime.timedelta(hours=2)})
    services.activity_complete(actor=rep, activity_id=done.pk, outcome="interested")
    planned = services.activity_create(actor=rep, data={"kind": "meeting", "subject": "Demo", "lead_id": web_lead.pk,
                                                        "start_at": timezone.now() + datetime.timedelta(days=2)})
    assert Interaction.objects.filter(source_type="sales.activity").count() == 0  # no customer yet

    # when it is converted
    response = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {}, content_type="application/json")

    # then there is one account, one contact and one opportunity, linked to each other and to the lead
    assert response.status_code == 200, response.content
    body = response.json()
    account = Account.objects.get(pk=body["account"]["id"])
    contact = Contact.objects.get(pk=body["contact"]["id"])
    deal = Opportunity.objects.get(pk=body["opportunity_id"])
    assert account.name == "博雅教育科技" and account.owner_id == rep.pk
    assert contact.full_name == "李娜" and contact.account_id == account.pk
    assert contact.phone == "+8613912345678" and contact.email == "li.na@boya.example"
    assert (deal.account_id, deal.contact_id, deal.lead_id) == (account.pk, contact.pk, web_lead.pk)
    assert (deal.campaign_id, deal.campaign_name) == (77, "Spring 5G promotion")
    assert str(deal.amount) == "80000.00" and deal.owner_id == rep.pk
    web_lead.refresh_from_db()
    assert web_lead.status == LeadStatus.CONVERTED and web_lead.converted_at is not None
    assert (web_lead.converted_account_id, web_lead.converted_contact_id, web_lead.converted_opportunity_id) == (
        account.pk, contact.pk, deal.pk)
    # and the lead's history followed it: activities re-linked, the done one and the enquiry on the timeline
    assert set(Activity.objects.filter(pk__in=[done.pk, planned.pk]).values_list("contact_id", flat=True)) == {
        contact.pk}
    assert Activity.objects.get(pk=planned.pk).opportunity_id == deal.pk
    timeline = Interaction.objects.filter(contact=contact)
    assert set(timeline.values_list("source_type", flat=True)) == {"sales.activity", "sales.lead"}
    assert AuditLog.objects.filter(object_type="lead", object_id=str(web_lead.pk), action="update").exists()


def test_converting_twice_is_refused_and_creates_nothing(api_client, web_lead):
    # given a converted lead
    assert api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {},
                           content_type="application/json").status_code == 200
    before = counts()

    # when it is converted again
    response = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {"ignore_duplicates": True},
                               content_type="application/json")

    # then 409, and no second account, contact or opportunity
    assert response.status_code == 409
    assert "converted" in response.json()["detail"]
    assert counts() == before


def test_a_lead_matching_an_existing_contact_is_not_converted_blindly(api_client, web_lead, customer):
    # given a contact with the lead's phone number, written another way
    from guanxi.core import services as core_services

    existing = core_services.contact_create(actor=web_lead.owner, data={"full_name": "李娜", "phone": "+86 139-1234-5678"})
    detail = api_client.get(f"/api/v1/sales/leads/{web_lead.pk}").json()
    assert {"kind": "contact", "id": existing.pk, "name": "李娜", "matched_on": "phone", "visible": True} in \
        detail["duplicates"]
    before = counts()

    # when converting without saying what to do with the match
    refused = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {}, content_type="application/json")

    # then 409 naming the match, and nothing is created
    assert refused.status_code == 409 and "李娜" in refused.json()["detail"]
    assert counts() == before
    assert Lead.objects.get(pk=web_lead.pk).status == LeadStatus.NEW

    # when converting into the existing contact instead
    merged = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {"contact_id": existing.pk},
                             content_type="application/json")

    # then no new contact, the deal is on the existing one
    assert merged.status_code == 200, merged.content
    assert merged.json()["contact"]["id"] == existing.pk
    assert Contact.objects.count() == before[1]
    assert Opportunity.objects.get(pk=merged.json()["opportunity_id"]).contact_id == existing.pk


def test_a_disqualified_lead_is_not_converted(api_client, web_lead):
    api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/disqualify", {"reason": "no_budget"},
                    content_type="application/json")
    before = counts()
    response = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {}, content_type="application/json")
    assert response.status_code == 409
    assert counts() == before


def test_an_invalid_opportunity_rolls_the_whole_conversion_back(api_client, web_lead):
    # given a conversion asking for a stage of no pipeline
    before = counts()
    response = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert",
                               {"opportunity": {"stage_id": 999999}}, content_type="application/json")
    # then 422 on the opportunity's field, and not even the account or contact remain
    assert response.status_code == 422
    assert "opportunity.stage_id" in response.json()["errors"]
    assert counts() == before
    assert Lead.objects.get(pk=web_lead.pk).status == LeadStatus.NEW


def test_a_rep_cannot_convert_someone_elses_lead(client_for, make_user, web_lead):
    other = make_user("rep.other", "sales_rep")
    before = counts()
    response = client_for(other).post(f"/api/v1/sales/leads/{web_lead.pk}/convert", {},
                                      content_type="application/json")
    assert response.status_code == 404
    assert counts() == before


def test_convert_without_opportunity_into_an_existing_account(api_client, web_lead, customer):
    response = api_client.post(f"/api/v1/sales/leads/{web_lead.pk}/convert",
                               {"account_id": customer["account"].pk, "create_opportunity": False},
                               content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["account"]["id"] == customer["account"].pk and body["opportunity_id"] is None
    assert Contact.objects.get(pk=body["contact"]["id"]).account_id == customer["account"].pk
    assert Account.objects.filter(name="博雅教育科技").count() == 0
