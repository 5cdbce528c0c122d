"""Events: the public registration form with capacity and a waiting list, known customers
linked and strangers turned into sales leads of the campaign, reminders sent once,
attendance, and the follow-up campaign."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.interactions.models import Interaction
from guanxi.marketing import services
from guanxi.marketing.models import (
    Campaign, CampaignResponse, Event, EventRegistration, SegmentMember,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(admin_user):
    return services.event_create(actor=admin_user, data={
        "name": "5G Summit", "slug": "5g-summit", "starts_at": timezone.now() + datetime.timedelta(days=7),
        "venue": "深圳会展中心", "address": "福田区福华三路", "capacity": 2, "reminder_hours": 48})


@pytest.fixture
def customer(admin_user):
    return core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang@example.cn", "consent_email": True, "preferred_language": "zh-hans"})


def register(client, slug, **data):
    return client.post(f"/marketing/e/{slug}/", {"full_name": "Someone", "email": "someone@example.cn", **data})


def test_the_public_form_registers_and_links_a_known_customer(client, event, customer,
                                                              django_capture_on_commit_callbacks):
    page = client.get("/marketing/e/5g-summit/")
    assert page.status_code == 200 and "深圳会展中心" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = register(client, "5g-summit", full_name="王芳", email="WANG@example.cn", phone="138 0000 0001")
    assert response.status_code == 200 and "you are registered" in response.content.decode()
    registration = EventRegistration.objects.get(event=event)
    assert (registration.contact_id, registration.email, registration.phone, registration.status) == (
        customer.pk, "wang@example.cn", "+8613800000001", "registered")
    # without a campaign the registration goes straight on the timeline
    assert Interaction.objects.filter(contact=customer, source_type="event_registered").exists()
    # registering twice is the same registration
    register(client, "5g-summit", full_name="王芳", email="wang@example.cn")
    assert EventRegistration.objects.filter(event=event).count() == 1


def test_capacity_then_the_waiting_list_then_a_freed_seat(client, admin_user, event):
    for index in range(3):
        register(client, "5g-summit", full_name=f"P{index}", email=f"p{index}@example.cn")
    statuses = list(EventRegistration.objects.order_by("id").values_list("email", "status"))
    assert statuses == [("p0@example.cn", "registered"), ("p1@example.cn", "registered"),
                        ("p2@example.cn", "waitlisted")]
    page = client.post("/marketing/e/5g-summit/", {"full_name": "P3", "email": "p3@example.cn"})
    assert "waiting list" in page.content.decode()
    # a cancellation gives the seat to the first on the waiting list
    first = EventRegistration.objects.get(email="p0@example.cn")
    services.registration_cancel(actor=admin_user, registration_id=first.pk)
    assert EventRegistration.objects.get(email="p2@example.cn").status == "registered"
    assert EventRegistration.objects.get(email="p3@example.cn").status == "waitlisted"


def test_bad_input_and_closed_events_store_nothing(client, admin_user, event):
    response = register(client, "5g-summit", full_name="", email="not-an-email", phone="12")
    assert response.status_code == 400
    assert not EventRegistration.objects.exists()
    services.event_update(actor=admin_user, event_id=event.pk, data={"registration_open": False})
    response = register(client, "5g-summit")
    assert "closed" in response.content.decode() and not EventRegistration.objects.exists()
    assert client.get("/marketing/e/no-such-event/").status_code == 404


def test_a_stranger_becomes_a_lead_of_the_event_campaign(client, admin_user, event,
                                                         django_capture_on_commit_callbacks):
    from guanxi.sales.models import Lead, LeadBehaviour

    campaign = services.campaign_create(actor=admin_user, data={"name": "Summit invitations", "channel": "event",
                                                                 "event_id": event.pk})
    with django_capture_on_commit_callbacks(execute=True):
        register(client, "5g-summit", full_name="赵新", email="zhao@newco.cn", company="新公司", c=campaign.pk)
    registration = EventRegistration.objects.get(email="zhao@newco.cn")
    lead = Lead.objects.get(pk=registration.lead_id)
    assert (lead.full_name, lead.company, lead.source, lead.campaign_id) == ("赵新", "新公司", "event", campaign.pk)
    assert registration.campaign_id == campaign.pk
    response = CampaignResponse.objects.get(campaign=campaign, kind="registered")
    assert response.contact_id is None and "zhao@newco.cn" in response.dedupe_key
    # the registration counts as behaviour on the new lead
    assert list(LeadBehaviour.objects.filter(lead=lead).values_list("kind", flat=True)) == ["form_submit"]


def test_reminders_go_once_to_those_registered_within_the_window(client, admin_user, event, customer, smtp_sink):
    register(client, "5g-summit", full_name="王芳", email="wang@example.cn")
    register(client, "5g-summit", full_name="Anna", email="anna@example.com")
    register(client, "5g-summit", full_name="Waiting", email="waiting@example.com")  # waitlisted: no reminder
    assert services.events_send_reminders() == 0  # the event is 7 days away, the window 48 hours
    assert smtp_sink.count == 0
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + datetime.timedelta(hours=24))
    assert services.events_send_reminders() == 2
    assert services.events_send_reminders() == 0  # once
    smtp_sink.wait_for(2)
    reminded = sorted(address for item in smtp_sink.received for address in item.recipients)
    assert reminded == ["anna@example.com", "wang@example.cn"]
    message = next(item.message for item in smtp_sink.received if item.recipients == ["wang@example.cn"])
    assert "5G Summit" in message["Subject"] and "深圳会展中心" in message.get_content()


def test_attendance_is_recorded_and_drives_a_follow_up_campaign(api_client, client, admin_user, event, customer):
    register(client, "5g-summit", full_name="王芳", email="wang@example.cn")
    register(client, "5g-summit", full_name="Anna", email="anna@example.com")
    wang = EventRegistration.objects.get(email="wang@example.cn")
    anna = EventRegistration.objects.get(email="anna@example.com")
    response = api_client.post(f"/api/v1/marketing/events/{event.pk}/attendance",
                               {"registration_ids": [wang.pk]}, content_type="application/json")
    assert response.json() == {"changed": 1}
    api_client.post(f"/api/v1/marketing/events/{event.pk}/attendance",
                    {"registration_ids": [anna.pk], "attended": False}, content_type="application/json")
    wang.refresh_from_db()
    assert wang.status == "attended" and wang.attended_at is not None
    assert EventRegistration.objects.get(pk=anna.pk).status == "no_show"
    assert Interaction.objects.filter(contact=customer, source_type="event_attended").exists()
    response = api_client.post(f"/api/v1/marketing/events/{event.pk}/follow-up", {"audience": "attended"},
                               content_type="application/json")
    assert response.status_code == 201, response.content
    follow_up = Campaign.objects.get(pk=response.json()["id"])
    assert (follow_up.status, follow_up.channel, follow_up.event_id) == ("draft", "email", event.pk)
    assert list(SegmentMember.objects.filter(segment=follow_up.segment).values_list("contact_id", flat=True)) == [
        customer.pk]
    response = api_client.post(f"/api/v1/marketing/events/{event.pk}/attendance", {"registration_ids": [987654]},
                               content_type="application/json")
    assert response.status_code == 422


def test_an_event_with_registrations_is_not_deleted(api_client, client, event):
    register(client, "5g-summit")
    assert api_client.delete(f"/api/v1/marketing/events/{event.pk}").status_code == 409
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_360_page_shows_registrations_and_campaign_responses(client, admin_user, event, customer):
    campaign = services.campaign_create(actor=admin_user, data={"name": "Summit invitations", "channel": "event",
                                                                 "event_id": event.pk})
    register(client, "5g-summit", full_name="王芳", email="wang@example.cn", c=campaign.pk)
    client.force_login(admin_user)
    page = client.get(reverse("core:contact_360", args=[customer.pk])).content.decode()
    assert 'id="marketing-history"' in page
    assert "Summit invitations</a>: Registered" in page
    assert "5G Summit</a>: Registered" in page


# ======================================================================================
# The staff pages
# ======================================================================================
def event_form(**data):
    starts = timezone.localtime(timezone.now() + datetime.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    return {"name": "Cloud Day", "slug": "", "description": "", "starts_at": starts, "ends_at": "",
            "venue": "上海国际会议中心", "address": "", "capacity": "2", "registration_open": "on",
            "reminder_hours": "24", **data}


def test_event_pages_create_edit_attendance_and_follow_up(client, make_user, customer):
    from guanxi.core.models import Role

    marketer = make_user("marketer", Role.MARKETER)
    client.force_login(marketer)
    assert client.get("/marketing/events/new/").status_code == 200
    # bad input: field errors on the page, nothing stored
    response = client.post("/marketing/events/new/", event_form(name="", starts_at="tomorrow"))
    assert response.status_code == 400 and not Event.objects.exists()
    starts = timezone.localtime(timezone.now() + datetime.timedelta(days=10))
    response = client.post("/marketing/events/new/", event_form(
        ends_at=(starts - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 400 and "The end must not be before the start." in response.content.decode()
    assert not Event.objects.exists()
    # a good form makes the event with its public web address
    response = client.post("/marketing/events/new/", event_form())
    event = Event.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/marketing/events/{event.pk}/"
    assert (event.slug, event.capacity, event.owner_id, event.registration_open) == ("cloud-day", 2, marketer.pk, True)
    assert "Cloud Day" in client.get("/marketing/events/").content.decode()
    # people register through the public form; the event page shows them and the seats
    register(client, "cloud-day", full_name="王芳", email="wang@example.cn")
    register(client, "cloud-day", full_name="Anna", email="anna@example.com")
    register(client, "cloud-day", full_name="Late", email="late@example.com")
    page = client.get(f"/marketing/events/{event.pk}/").content.decode()
    assert "2 of 2 taken, 1 waiting" in page and "/marketing/e/cloud-day/" in page and "anna@example.com" in page
    # the capacity cannot drop below the seats taken; raising it seats the waiting list
    response = client.post(f"/marketing/events/{event.pk}/edit/", event_form(capacity="1"))
    assert response.status_code == 400 and Event.objects.get(pk=event.pk).capacity == 2
    response = client.post(f"/marketing/events/{event.pk}/edit/", event_form(capacity="3"))
    assert response.status_code == 302 and Event.objects.get(pk=event.pk).capacity == 3
    assert EventRegistration.objects.get(email="late@example.com").status == "registered"
    # attendance is ticked on the page
    wang, anna = (EventRegistration.objects.get(email=email) for email in ("wang@example.cn", "anna@example.com"))
    client.post(f"/marketing/events/{event.pk}/attendance/", {"registration": [wang.pk], "attended": "1"})
    client.post(f"/marketing/events/{event.pk}/attendance/", {"registration": [anna.pk], "attended": "0"})
    assert EventRegistration.objects.get(pk=wang.pk).status == "attended"
    assert EventRegistration.objects.get(pk=anna.pk).status == "no_show"
    # unknown people and an empty audience are refused on the page, with nothing changed
    response = client.post(f"/marketing/events/{event.pk}/attendance/", {"registration": [987654], "attended": "1"})
    assert response.status_code == 400 and "987654" in response.content.decode()
    response = client.post(f"/marketing/events/{event.pk}/follow-up/", {"audience": "registered"})
    assert response.status_code == 400 and "Nobody known to us is in this group." in response.content.decode()
    assert not Campaign.objects.exists()
    # the follow-up campaign to those who came opens as a draft
    response = client.post(f"/marketing/events/{event.pk}/follow-up/", {"audience": "attended"})
    follow_up = Campaign.objects.get(event=event)
    assert response.status_code == 302 and response["Location"] == f"/marketing/campaigns/{follow_up.pk}/"
    assert list(SegmentMember.objects.filter(segment=follow_up.segment).values_list("contact_id", flat=True)) == [
        customer.pk]
    # an event with registrations is kept
    response = client.post(f"/marketing/events/{event.pk}/delete/")
    assert response.status_code == 409 and "People registered for this event" in response.content.decode()
    assert Event.objects.filter(pk=event.pk).exists()


def test_sales_reps_see_events_but_do_not_change_them(client, make_user, admin_user, event):
    from guanxi.core.models import Role

    register(client, "5g-summit", full_name="Anna", email="anna@example.com")
    anna = EventRegistration.objects.get()
    client.force_login(make_user("rep", Role.SALES_REP))
    page = client.get(f"/marketing/events/{event.pk}/")
    assert page.status_code == 200 and 'name="registration"' not in page.content.decode()
    assert client.get("/marketing/events/new/").status_code == 403
    assert client.post("/marketing/events/new/", event_form()).status_code == 403
    assert client.post(f"/marketing/events/{event.pk}/edit/", event_form(name="Renamed")).status_code == 403
    response = client.post(f"/marketing/events/{event.pk}/attendance/", {"registration": [anna.pk]})
    assert response.status_code == 403
    assert Event.objects.get(pk=event.pk).name == "5G Summit" and Event.objects.count() == 1
    assert EventRegistration.objects.get(pk=anna.pk).status == "registered"
