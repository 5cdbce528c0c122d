"""IVR menus in the CRM: stored only when valid (problems named by line, in the API and the
web editor), run for simulated calls with self-service lookups over the CRM's records,
PINs checked and locked, and the caller queued with what they entered."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services
from guanxi.contactcenter.models import Call, CallEndReason, CallState, IvrCredential, IvrMenu, IvrSession
from guanxi.core.services import account_create, contact_create

pytestmark = pytest.mark.django_db
API = "/api/v1/contact-center"

MENU = """name: Main line
language: en
start: main
nodes:
  main:
    type: menu
    say: "For your balance press 1, for an agent press 0."
    options: {"1": account, "0": agent}
    on_failure: agent
  account:
    type: capture
    say: "Enter your account number, then the hash key."
    field: account_number
    min_digits: 6
    max_digits: 10
    next: pin
    on_failure: agent
  pin:
    type: pin_check
    say: "Enter your PIN."
    retries: 1
    next: balance
    on_failure: agent
  balance:
    type: lookup
    lookup: balance
    key_field: account_number
    say: "Your balance is {balance}."
    next: main
    on_not_found: agent
  agent:
    type: queue
    queue: billing
    reason: Billing question
    say: "Please hold."
"""


@pytest.fixture
def supervisor(make_user):
    return make_user("boss", "supervisor")


@pytest.fixture
def line(center):
    center.queue("billing")
    return services.ivr_menu_create(actor=None, data={"name": "Main line", "numbers": ["95555"], "source": MENU})


@pytest.fixture
def customer(admin_user):
    account = account_create(actor=admin_user, data={"name": "Wang household", "custom_data": {}})
    contact = contact_create(actor=admin_user, data={"full_name": "王芳", "account_id": account.pk,
                                                     "value_tier": "gold"})
    account.custom_data = {"balance": "128.50"}
    account.save(update_fields=["custom_data"])
    services.ivr_credential_set(actor=None, account_number="60012345", pin="2468", contact_id=contact.pk,
                                account_id=account.pk)
    return contact


def spoken(call) -> list[str]:
    return [entry["say"] for entry in IvrSession.objects.get(call=call).transcript if "say" in entry]


def test_a_menu_with_problems_is_refused_with_each_line(center, client_for, supervisor):
    center.queue("billing")
    client = client_for(supervisor)
    broken = MENU.replace('"0": agent', '"0": agnet').replace("on_failure: agent\n  account", "on_failure: x\n  account")
    unknown_queue = MENU.replace("queue: billing", "queue: nosuch")

    response = client.post(API + "/ivr-menus", {"name": "Broken", "source": broken}, content_type="application/json")
    second = client.post(API + "/ivr-menus", {"name": "Broken", "source": unknown_queue},
                         content_type="application/json")

    assert response.status_code == 422
    assert response.json()["errors"]["source"] == [
        "Line 8: “options.0” of node “main” goes to “agnet”, which is not defined.",
        "Line 9: “on_failure” of node “main” goes to “x”, which is not defined."]
    assert second.status_code == 422
    assert second.json()["errors"]["source"] == [
        "Line 33: Queue node “agent” names queue “nosuch”, which does not exist."]
    assert not IvrMenu.objects.exists()


def test_the_check_endpoint_lists_problems_without_saving(center, client_for, supervisor):
    response = client_for(supervisor).post(API + "/ivr-menus/check", {"source": "start: a\nnodes: {}\n"},
                                           content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False and body["problems"][0]["code"] == "empty" and body["problems"][0]["line"] == 2
    assert not IvrMenu.objects.exists()


def test_the_web_editor_shows_problems_by_line_and_saves_a_valid_menu(center, client, supervisor):
    center.queue("billing")
    client.force_login(supervisor)

    refused = client.post("/contact-center/ivr-menus/new/", {"name": "Main", "numbers": "95555, 95556",
                                                             "is_active": "on",
                                                             "source": MENU + "  orphan: {type: hangup}\n"})
    assert refused.status_code == 400
    assert "Line 36: Node “orphan” cannot be reached from the start node." in refused.content.decode()
    assert not IvrMenu.objects.exists()

    saved = client.post("/contact-center/ivr-menus/new/", {"name": "Main", "numbers": "95555, 95556",
                                                           "is_active": "on", "source": MENU})
    menu = IvrMenu.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/contact-center/ivr-menus/{menu.pk}/"
    assert menu.numbers == ["95555", "95556"] and menu.version == 1
    client.post(f"/contact-center/ivr-menus/{menu.pk}/", {"name": "Main", "numbers": "95555", "is_active": "on",
                                                          "source": MENU.replace("Please hold.", "One moment.")})
    menu.refresh_from_db()
    assert menu.version == 2 and "One moment." in menu.source


def test_a_caller_hears_the_balance_after_account_number_and_pin(line, customer, client_for, supervisor):
    phone = client_for(supervisor)
    call = phone.post(API + "/simulator/calls", {"ani": "+8613900001111", "dnis": "95555"},
                      content_type="application/json").json()["call"]

    for keys in ("1", "60012345#", "2468#"):
        answer = phone.post(f"{API}/simulator/calls/{call['id']}/keys", {"digits": keys},
                            content_type="application/json")
        assert answer.status_code == 200, answer.content

    stored = Call.objects.get(pk=call["id"])
    assert "Your balance is 128.50 CNY." in spoken(stored)
    assert stored.state == CallState.IVR and stored.ivr_data["pin_verified"] is True
    assert stored.ivr_data["account_number"] == "60012345"


def test_queueing_from_the_ivr_identifies_the_caller_by_account_number(line, customer, client_for, supervisor,
                                                                       center):
    phone = client_for(supervisor)
    call_id = phone.post(API + "/simulator/calls", {"ani": "+8613900001111", "dnis": "95555"},
                         content_type="application/json").json()["call"]["id"]
    for keys in ("1", "60012345#", "2468#", "0"):
        phone.post(f"{API}/simulator/calls/{call_id}/keys", {"digits": keys}, content_type="application/json")

    call = Call.objects.get(pk=call_id)
    assert call.state == CallState.QUEUED and call.queue.code == "billing"
    assert call.contact_id == customer.pk and call.priority == 10  # gold, found by the account number
    assert call.ivr_data["reason"] == "Billing question"
    assert spoken(call)[-2:] == ["Please hold.", "You are number 1 in line."]


def test_five_wrong_pins_lock_the_account_number(line, customer):
    for _attempt in range(5):
        assert services.ivr_pin_verify("60012345", "0000") is False

    assert services.ivr_pin_verify("60012345", "2468") is False  # locked, even with the right PIN
    assert IvrCredential.objects.get(account_number="60012345").failed_attempts == 5
    services.ivr_credential_set(actor=None, account_number="60012345", pin="1357", contact_id=customer.pk)
    assert services.ivr_pin_verify("60012345", "1357") is True


def test_bad_keys_and_a_call_not_in_the_ivr_are_refused(line, client_for, supervisor):
    phone = client_for(supervisor)
    call_id = phone.post(API + "/simulator/calls", {"ani": "+8613900001111", "dnis": "95555"},
                         content_type="application/json").json()["call"]["id"]

    bad = phone.post(f"{API}/simulator/calls/{call_id}/keys", {"digits": "12a"}, content_type="application/json")
    assert bad.status_code == 422 and "digits" in bad.json()["errors"]
    phone.post(f"{API}/simulator/calls/{call_id}/keys", {"digits": "0"}, content_type="application/json")
    late = phone.post(f"{API}/simulator/calls/{call_id}/keys", {"digits": "1"}, content_type="application/json")
    assert late.status_code == 409


def test_hanging_up_in_the_ivr_is_self_service_and_stale_sessions_are_closed(line, client_for, supervisor,
                                                                             center):
    phone = client_for(supervisor)
    first = phone.post(API + "/simulator/calls", {"ani": "+8613900001111", "dnis": "95555"},
                       content_type="application/json").json()["call"]["id"]
    second = phone.post(API + "/simulator/calls", {"ani": "+8613900002222", "dnis": "95555"},
                        content_type="application/json").json()["call"]["id"]

    hung_up = phone.post(f"{API}/simulator/calls/{first}/hangup").json()["call"]
    center.clock.advance(31 * 60)
    closed = services.calls_close_stale_ivr(minutes=30)

    assert (hung_up["state"], hung_up["end_reason"]) == ("ended", CallEndReason.SELF_SERVICE)
    assert closed == 1
    assert Call.objects.get(pk=second).end_reason == CallEndReason.ABANDONED


def test_a_menu_naming_a_queue_that_was_deactivated_ends_the_call_with_a_reason(line, client_for, supervisor):
    from guanxi.contactcenter.models import Queue

    Queue.objects.filter(code="billing").update(is_active=False)
    services.routing_service().invalidate("queue deactivated in the test")
    phone = client_for(supervisor)
    call_id = phone.post(API + "/simulator/calls", {"ani": "+8613900001111", "dnis": "95555"},
                         content_type="application/json").json()["call"]["id"]

    phone.post(f"{API}/simulator/calls/{call_id}/keys", {"digits": "0"}, content_type="application/json")

    call = Call.objects.get(pk=call_id)
    assert (call.state, call.end_reason) == (CallState.ENDED, CallEndReason.NO_ROUTE)
    assert "not an active queue" in call.events.get(kind="ended").detail["note"]


def test_the_menu_exports_to_twiml(line, client_for, supervisor):
    response = client_for(supervisor).get(f"{API}/ivr-menus/{line.pk}/twiml")

    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    body = response.content.decode()
    assert "<Gather action=\"http://testserver/contact-center/twilio/voice/?node=main\"" in body
    assert "For your balance press 1, for an agent press 0." in body
