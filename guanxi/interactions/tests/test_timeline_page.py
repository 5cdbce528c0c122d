"""The 360° pages' timeline, logging an interaction from the web UI, and the interaction
list — through the pages, then checking what is stored."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import Role
from guanxi.interactions import services
from guanxi.interactions.models import Interaction

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def timeline_ids(response) -> list[int]:
    return [int(found) for found in re.findall(r'<li id="interaction-(\d+)">', response.content.decode())]


def log(actor, contact, minutes_ago: int, **data) -> Interaction:
    return services.interaction_record(actor=actor, data={
        "contact_id": contact.pk, "channel": data.pop("channel", "phone"),
        "occurred_at": timezone.now() - datetime.timedelta(minutes=minutes_ago), **data})


@pytest.fixture
def customer(admin_user):
    account = core_services.account_create(actor=admin_user, data={"name": "招商银行"})
    return core_services.contact_create(actor=admin_user, data={
        "family_name": "李", "given_name": "娜", "phone": "139 1111 2222", "email": "li.na@example.cn",
        "account_id": account.pk, "lifecycle_stage": "loyal", "value_tier": "gold", "consent_email": True,
        "tags": ["vip"]})


def test_360_page_shows_the_customer_and_the_timeline_newest_first_25_a_page(admin_user, customer):
    # given 30 interactions recorded in no particular order of time
    recorded = [log(admin_user, customer, minutes_ago=(index * 7) % 30 * 10, subject=f"Touch {index}")
                for index in range(30)]
    newest_first = [item.pk for item in sorted(recorded, key=lambda item: (item.occurred_at, item.pk),
                                               reverse=True)]
    client = client_of(admin_user)
    url = reverse("core:contact_360", args=[customer.pk])
    # when the 360° page is opened
    first = client.get(url)
    html = first.content.decode()
    # then the header shows who the customer is
    assert first.status_code == 200
    for expected in ("李娜", "招商银行", "+86 139 1111 2222", "li.na@example.cn", "Loyal", "Gold (next 4%)",
                     "Email: consent given", "SMS: no consent", "vip"):
        assert expected in html, expected
    # and the timeline holds the 25 newest, newest first, with a link to the older ones
    assert timeline_ids(first) == newest_first[:25]
    assert "Page 1 of 2" in html and 'href="?page=2#timeline" rel="next"' in html
    second = client.get(url, {"page": 2})
    assert timeline_ids(second) == newest_first[25:]
    # the live update script is wired to this contact
    assert f'data-live-contact="{customer.pk}"' in html and 'data-first-page="true"' in html
    assert "js/live-timeline.js" in html and 'aria-live="polite"' in html
    assert 'data-first-page="false"' in second.content.decode()


def test_logging_an_interaction_from_the_360_page_stores_it_on_the_timeline(admin_user, customer):
    client = client_of(admin_user)
    page = client.get(reverse("core:contact_360", args=[customer.pk])).content.decode()
    log_url = reverse("interactions:log_for_contact", args=[customer.pk])
    assert f'action="{log_url}"' in page and '<label for="log_channel">' in page
    # when the agent fills in the form
    response = client.post(log_url, {
        "channel": "phone", "direction": "in", "occurred_at": "2025-03-01T09:30", "duration": "4:30",
        "subject": "Card blocked", "reason": "card blocked", "outcome": "unblocked", "notes": "Verified by PIN."})
    # then it is stored with the agent and the account, and the 360° page shows it on top
    assert response.status_code == 302
    assert response["Location"] == reverse("core:contact_360", args=[customer.pk]) + "#timeline"
    interaction = Interaction.objects.get()
    assert (interaction.contact_id, interaction.account_id, interaction.agent_id) == (
        customer.pk, customer.account_id, admin_user.pk)
    assert (interaction.duration_seconds, interaction.reason, interaction.outcome) == (270, "card blocked",
                                                                                       "unblocked")
    assert timezone.localtime(interaction.occurred_at).strftime("%Y-%m-%d %H:%M") == "2025-03-01 09:30"
    follow = client.get(response["Location"])
    assert timeline_ids(follow) == [interaction.pk]
    assert "Interaction logged: Phone, Inbound." in follow.content.decode()


def test_bad_interaction_input_is_refused_at_the_fields_and_nothing_is_stored(admin_user, customer):
    client = client_of(admin_user)
    response = client.post(reverse("interactions:log_for_contact", args=[customer.pk]), {
        "channel": "pigeon", "direction": "in", "occurred_at": "yesterday", "duration": "4:75"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_channel_error">Select a valid choice.' in html
    assert 'id="id_occurred_at_error">Enter a valid date/time.' in html
    assert 'id="id_duration_error">Minutes and seconds go up to 59.' in html
    assert Interaction.objects.count() == 0


def test_account_360_shows_the_interactions_of_its_contacts(admin_user, customer):
    on_contact = log(admin_user, customer, minutes_ago=10, subject="Via the contact")
    on_account = services.interaction_record(actor=admin_user, data={
        "account_id": customer.account_id, "channel": "letter", "direction": "out", "subject": "Annual letter"})
    response = client_of(admin_user).get(reverse("core:account_360", args=[customer.account_id]))
    html = response.content.decode()
    assert timeline_ids(response) == [on_account.pk, on_contact.pk]
    assert "李娜" in html and "Annual letter" in html
    # logging on the account works too
    client = client_of(admin_user)
    response = client.post(reverse("interactions:log_for_account", args=[customer.account_id]), {
        "channel": "visit", "direction": "out", "occurred_at": "2025-05-05T10:00", "subject": "Branch visit"})
    assert response.status_code == 302
    assert Interaction.objects.filter(account_id=customer.account_id, contact=None, channel="visit").count() == 1


def test_other_reps_customers_are_404_and_roles_without_the_right_get_403(admin_user, customer, make_user):
    rep = make_user("rep", Role.SALES_REP)
    rep_client = client_of(rep)
    assert rep_client.get(reverse("core:contact_360", args=[customer.pk])).status_code == 404
    assert rep_client.get(reverse("core:account_360", args=[customer.account_id])).status_code == 404
    response = rep_client.post(reverse("interactions:log_for_contact", args=[customer.pk]),
                               {"channel": "phone", "direction": "out", "occurred_at": "2025-01-01T10:00"})
    assert response.status_code == 404
    # an analyst reads the timeline but is not offered the form, and may not post it
    analyst_client = client_of(make_user("analyst", Role.ANALYST))
    page = analyst_client.get(reverse("core:contact_360", args=[customer.pk])).content.decode()
    assert "Log an interaction" not in page
    response = analyst_client.post(reverse("interactions:log_for_contact", args=[customer.pk]),
                                   {"channel": "phone", "direction": "out", "occurred_at": "2025-01-01T10:00"})
    assert response.status_code == 403
    assert Interaction.objects.count() == 0


def test_interaction_list_filters_by_channel_and_direction(admin_user, customer, make_user):
    phone_in = log(admin_user, customer, 30, channel="phone", direction="in", subject="Phone in")
    email_out = log(admin_user, customer, 20, channel="email", direction="out", subject="Email out")
    chat_in = log(admin_user, customer, 10, channel="chat", direction="in", subject="Chat in")
    client = client_of(admin_user)
    url = reverse("interactions:list")
    html = client.get(url).content.decode()
    assert html.index("Chat in") < html.index("Email out") < html.index("Phone in")
    html = client.get(url, {"direction": "in"}).content.decode()
    assert "Chat in" in html and "Phone in" in html and "Email out" not in html
    html = client.get(url, {"channel": "email"}).content.decode()
    assert "Email out" in html and "Chat in" not in html
    assert client.get(url, {"channel": "pigeon"}).status_code == 400
    detail = client.get(reverse("interactions:detail", args=[email_out.pk]))
    assert detail.status_code == 200 and "Email out" in detail.content.decode()
    # a sales rep sees only interactions about their own customers or handled by them
    rep_client = client_of(make_user("rep", Role.SALES_REP))
    assert "No interactions match." in rep_client.get(url).content.decode()
    for interaction in (phone_in, email_out, chat_in):
        assert rep_client.get(reverse("interactions:detail", args=[interaction.pk])).status_code == 404


def test_home_lists_my_recent_interactions(admin_user, customer):
    log(admin_user, customer, 5, subject="Called back")
    html = client_of(admin_user).get(reverse("core:home")).content.decode()
    assert "My recent interactions" in html and "Called back" in html and "李娜" in html
