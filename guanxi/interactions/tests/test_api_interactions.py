"""The interaction log through the REST API: recording (idempotent per source), reading,
correcting and removing interactions, and the customer timelines of the 360° view."""

import datetime

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import AuditLog, Role
from guanxi.interactions import services
from guanxi.interactions.models import Interaction

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


@pytest.fixture
def customer(admin_user):
    account = core_services.account_create(actor=admin_user, data={"name": "华强电子"})
    contact = core_services.contact_create(actor=admin_user, data={"full_name": "王芳", "account_id": account.pk})
    return account, contact


def at(days_ago: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days_ago)


# ======================================================================================
# Recording
# ======================================================================================
def test_record_an_interaction_on_a_contact(api_client, admin_user, customer):
    account, contact = customer
    # when a call is recorded with everything SPEC §6 asks for
    response = post(api_client, "/api/v1/interactions", {
        "contact_id": contact.pk, "channel": "phone", "direction": "in", "occurred_at": "2026-03-01T09:30:00+08:00",
        "duration_seconds": 245, "subject": "Billing question", "reason": "invoice", "outcome": "explained",
        "effect": "complaint avoided", "script": "billing-v2", "notes": "Asked about March invoice.",
        "documents": [{"name": "Invoice 2026-03", "url": "/files/inv-2026-03.pdf"}]})
    # then the answer and the stored row carry it, with the account taken from the contact and the actor as agent
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contact"] == {"id": contact.pk, "full_name": "王芳"}
    assert body["account"] == {"id": account.pk, "name": "华强电子"}
    assert body["agent"]["id"] == admin_user.pk
    assert (body["channel"], body["direction"], body["duration_seconds"]) == ("phone", "in", 245)
    interaction = Interaction.objects.get(pk=body["id"])
    assert interaction.account_id == account.pk and interaction.agent_id == admin_user.pk
    assert interaction.occurred_at == datetime.datetime(2026, 3, 1, 1, 30, tzinfo=datetime.timezone.utc)
    assert interaction.documents == [{"name": "Invoice 2026-03", "url": "/files/inv-2026-03.pdf"}]
    assert AuditLog.objects.filter(action="create", object_type="interaction", object_id=str(interaction.pk)).exists()


def test_time_without_offset_is_read_in_the_servers_time_zone(api_client, customer, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    _account, contact = customer
    response = post(api_client, "/api/v1/interactions", {"contact_id": contact.pk, "channel": "visit",
                                                         "occurred_at": "2026-03-01T09:30:00"})
    assert response.status_code == 201
    stored = Interaction.objects.get(pk=response.json()["id"]).occurred_at
    assert stored == datetime.datetime(2026, 3, 1, 1, 30, tzinfo=datetime.timezone.utc)


def test_same_source_twice_is_recorded_once(api_client, customer):
    _account, contact = customer
    body = {"contact_id": contact.pk, "channel": "phone", "source_type": "call", "source_id": "uuid-1"}
    first, second = post(api_client, "/api/v1/interactions", body), post(api_client, "/api/v1/interactions", body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Interaction.objects.filter(source_type="call", source_id="uuid-1").count() == 1


def test_interaction_must_name_a_customer_and_a_known_channel(api_client):
    missing = post(api_client, "/api/v1/interactions", {"channel": "phone"})
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"contact_id"}
    bad_channel = post(api_client, "/api/v1/interactions", {"contact_id": 1, "channel": "pigeon"})
    assert bad_channel.status_code == 422 and set(bad_channel.json()["errors"]) == {"channel"}
    unknown = post(api_client, "/api/v1/interactions", {"contact_id": 999999, "channel": "phone"})
    assert unknown.status_code == 422 and set(unknown.json()["errors"]) == {"contact_id"}
    unknown_account = post(api_client, "/api/v1/interactions", {"account_id": 999999, "channel": "email"})
    assert unknown_account.status_code == 422 and set(unknown_account.json()["errors"]) == {"account_id"}
    assert Interaction.objects.count() == 0


def test_agent_cannot_be_set_by_the_caller(api_client, customer, make_user):
    _account, contact = customer
    other = make_user("other", Role.SALES_REP)
    response = post(api_client, "/api/v1/interactions", {"contact_id": contact.pk, "channel": "phone",
                                                         "agent_id": other.pk})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"agent_id"}
    assert Interaction.objects.count() == 0


def test_rep_cannot_record_on_someone_elses_customer(admin_user, make_user, client_for, customer):
    account, contact = customer
    client = client_for(make_user("rep", Role.SALES_REP))
    on_contact = post(client, "/api/v1/interactions", {"contact_id": contact.pk, "channel": "phone"})
    on_account = post(client, "/api/v1/interactions", {"account_id": account.pk, "channel": "email"})
    assert on_contact.status_code == 422 and set(on_contact.json()["errors"]) == {"contact_id"}
    assert on_account.status_code == 422 and set(on_account.json()["errors"]) == {"account_id"}
    assert Interaction.objects.count() == 0


def test_analyst_may_not_record(make_user, client_for, customer):
    _account, contact = customer
    response = post(client_for(make_user("analyst", Role.ANALYST)), "/api/v1/interactions",
                    {"contact_id": contact.pk, "channel": "phone"})
    assert response.status_code == 403
    assert Interaction.objects.count() == 0


# ======================================================================================
# Reading, correcting, removing
# ======================================================================================
def test_list_filters_and_scope(admin_user, make_user, client_for):
    rep = make_user("rep", Role.SALES_REP)
    mine = core_services.contact_create(actor=rep, data={"full_name": "Mine"})
    theirs = core_services.contact_create(actor=admin_user, data={"full_name": "Theirs"})
    call = services.interaction_record(actor=rep, data={"contact_id": mine.pk, "channel": "phone",
                                                        "occurred_at": at(2)})
    email = services.interaction_record(actor=rep, data={"contact_id": mine.pk, "channel": "email",
                                                         "direction": "out", "occurred_at": at(1)})
    hidden = services.interaction_record(actor=admin_user, data={"contact_id": theirs.pk, "channel": "phone"})
    client = client_for(rep)

    def ids(query=""):
        response = client.get(f"/api/v1/interactions?{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [email.pk, call.pk]  # newest first, only the rep's own
    assert ids("channel=phone") == [call.pk]
    assert ids("direction=out") == [email.pk]
    assert ids(f"contact_id={mine.pk}") == [email.pk, call.pk]
    assert client.get(f"/api/v1/interactions/{call.pk}").json()["channel"] == "phone"
    assert client.get(f"/api/v1/interactions/{hidden.pk}").status_code == 404
    assert client.get("/api/v1/interactions?channel=pigeon").status_code == 422


def test_agent_corrects_notes_but_not_who_or_when(admin_user, make_user, client_for, customer):
    _account, contact = customer
    agent = make_user("agent", Role.SERVICE_AGENT)
    interaction = services.interaction_record(actor=agent, data={"contact_id": contact.pk, "channel": "phone",
                                                                 "notes": "first draft"})
    client = client_for(agent)
    changed = patch(client, f"/api/v1/interactions/{interaction.pk}", {"notes": "Customer will call back.",
                                                                       "outcome": "callback"})
    assert changed.status_code == 200 and changed.json()["notes"] == "Customer will call back."
    refused = patch(client, f"/api/v1/interactions/{interaction.pk}", {"channel": "email", "notes": "x"})
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"channel"}
    interaction.refresh_from_db()
    assert (interaction.notes, interaction.outcome, interaction.channel) == (
        "Customer will call back.", "callback", "phone")
    entry = AuditLog.objects.get(action="update", object_type="interaction", object_id=str(interaction.pk))
    assert entry.changes["notes"] == ["first draft", "Customer will call back."]


def test_agents_may_not_correct_each_others_interactions(admin_user, make_user, client_for, customer):
    _account, contact = customer
    author, colleague = make_user("author", Role.SERVICE_AGENT), make_user("colleague", Role.SERVICE_AGENT)
    interaction = services.interaction_record(actor=author, data={"contact_id": contact.pk, "channel": "chat",
                                                                  "notes": "original"})
    response = patch(client_for(colleague), f"/api/v1/interactions/{interaction.pk}", {"notes": "rewritten"})
    assert response.status_code == 403  # the colleague may read it (scope all) but change only their own
    interaction.refresh_from_db()
    assert interaction.notes == "original"


def test_only_admin_removes_interactions(api_client, admin_user, make_user, client_for, customer):
    _account, contact = customer
    rep = make_user("rep", Role.SALES_REP)
    interaction = services.interaction_record(actor=admin_user, data={"contact_id": contact.pk, "channel": "fax"})
    assert client_for(rep).delete(f"/api/v1/interactions/{interaction.pk}").status_code == 403
    assert Interaction.objects.filter(pk=interaction.pk).exists()
    assert api_client.delete(f"/api/v1/interactions/{interaction.pk}").status_code == 204
    assert not Interaction.objects.filter(pk=interaction.pk).exists()
    assert AuditLog.objects.filter(action="delete", object_type="interaction", object_id=str(interaction.pk)).exists()


# ======================================================================================
# Timelines
# ======================================================================================
def test_contact_timeline_is_newest_first_and_paginated(api_client, admin_user, customer):
    _account, contact = customer
    recorded = [services.interaction_record(actor=admin_user, data={
        "contact_id": contact.pk, "channel": "phone", "subject": f"call {days}", "occurred_at": at(days)})
        for days in (5, 1, 3)]
    first = api_client.get(f"/api/v1/contacts/{contact.pk}/timeline?limit=2").json()
    assert [item["subject"] for item in first["items"]] == ["call 1", "call 3"]
    second = api_client.get(first["next"]).json()
    assert [item["subject"] for item in second["items"]] == ["call 5"] and second["next"] is None
    assert api_client.get(f"/api/v1/contacts/{contact.pk}/timeline?count=true").json()["count"] == len(recorded)


def test_account_timeline_includes_its_contacts(api_client, admin_user, customer):
    account, contact = customer
    on_contact = services.interaction_record(actor=admin_user, data={"contact_id": contact.pk, "channel": "visit",
                                                                     "occurred_at": at(2)})
    on_account = services.interaction_record(actor=admin_user, data={"account_id": account.pk, "channel": "letter",
                                                                     "occurred_at": at(1)})
    items = api_client.get(f"/api/v1/accounts/{account.pk}/timeline").json()["items"]
    assert [item["id"] for item in items] == [on_account.pk, on_contact.pk]


def test_timeline_of_a_customer_out_of_scope_is_not_found(admin_user, make_user, client_for, customer):
    account, contact = customer
    services.interaction_record(actor=admin_user, data={"contact_id": contact.pk, "channel": "phone"})
    client = client_for(make_user("rep", Role.SALES_REP))
    assert client.get(f"/api/v1/contacts/{contact.pk}/timeline").status_code == 404
    assert client.get(f"/api/v1/accounts/{account.pk}/timeline").status_code == 404
