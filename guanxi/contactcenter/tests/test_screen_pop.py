"""The screen pop: when a call reaches an agent, the agent's desktop socket receives the
caller's 360° summary, value tier, what other domains know (open cases), and the IVR data
at once; an unknown caller gets a "create contact" card; nobody sees more than their
access allows."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from guanxi.asgi import application
from guanxi.contactcenter import services
from guanxi.contactcenter.live import agent_group
from guanxi.contactcenter.models import Call
from guanxi.core.events import customer_glance_requested
from guanxi.core.models import Contact
from guanxi.core.services import account_create, contact_create
from guanxi.interactions.services import interaction_record

MENU = """language: en
start: account
nodes:
  account:
    type: capture
    say: "Enter your account number, then the hash key."
    field: account_number
    min_digits: 6
    max_digits: 10
    next: agent
    on_failure: agent
  agent: {type: queue, queue: billing, say: "Please hold."}
"""


def customer_with_history(admin_user) -> Contact:
    account = account_create(actor=admin_user, data={"name": "Wang household", "value_tier": "gold"})
    contact = contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13800138000",
                                                     "account_id": account.pk, "lifecycle_stage": "loyal"})
    interaction_record(actor=admin_user, data={"contact_id": contact.pk, "channel": "email",
                                               "subject": "Invoice question", "outcome": "Answered"})
    return contact


def pushes_to(user_id: int):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(user_id), channel)

    def received() -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(async_to_sync(asyncio.wait_for)(layer.receive(channel), 0.2))
            except asyncio.TimeoutError:
                return messages

    return received


@pytest.mark.django_db
def test_the_offer_carries_the_360_summary_tier_and_ivr_data(center, admin_user, make_user,
                                                             django_capture_on_commit_callbacks):
    customer = customer_with_history(admin_user)
    center.queue("billing")
    services.ivr_menu_create(actor=None, data={"name": "Line", "numbers": ["95555"], "source": MENU})
    ana = center.agent("ana")
    received = pushes_to(ana.pk)
    boss = make_user("boss", "supervisor")

    with django_capture_on_commit_callbacks(execute=True):
        call, _step = services.simulator_call_start(actor=boss, ani="138-0013-8000", dnis="95555")
        services.simulator_keys(actor=boss, call_id=call.pk, digits="60012345#")

    offers = [message["payload"] for message in received() if message["event"] == "contactcenter.offer"]
    assert len(offers) == 1
    pop = offers[0]
    assert (pop["call_id"], pop["state"], pop["ani"], pop["queue"]) == (call.pk, "ringing", "+8613800138000",
                                                                        "Billing")
    assert pop["ivr"] == [{"key": "account_number", "label": "Account number", "value": "60012345"}]
    card = pop["customer"]
    assert (card["known"], card["contact_id"], card["name"], card["account"]) == (True, customer.pk, "王芳",
                                                                                  "Wang household")
    assert (card["value_tier"], card["value_tier_label"], card["lifecycle_stage"]) == ("gold", "Gold (next 4%)",
                                                                                       "Loyal")
    assert card["url"] == f"/contacts/{customer.pk}/360/"
    assert card["recent"][0]["subject"] == "Invoice question" and card["interactions"] == 1
    assert Call.objects.get(pk=call.pk).priority == 10  # gold customers first


@pytest.mark.django_db
def test_other_domains_add_to_the_card_through_the_glance_signal(center, admin_user):
    customer = customer_with_history(admin_user)
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")

    def open_cases(sender, contact, actor, **kwargs):
        return {"key": "open_cases", "title": "Open cases",
                "items": [{"label": "CS-2026-0042 Router keeps rebooting", "url": "/service/cases/42/",
                           "detail": "escalated"}]}

    customer_glance_requested.connect(open_cases)
    try:
        call = center.call(ani="+8613800138000", dnis="95555")
        from guanxi.contactcenter.selectors import screen_pop

        pop = screen_pop(ana, Call.objects.get(pk=call.pk))
    finally:
        customer_glance_requested.disconnect(open_cases)

    assert pop["customer"]["contact_id"] == customer.pk
    assert pop["customer"]["sections"] == [{"key": "open_cases", "title": "Open cases", "items": [
        {"label": "CS-2026-0042 Router keeps rebooting", "url": "/service/cases/42/", "detail": "escalated"}]}]


@pytest.mark.django_db
def test_an_unknown_caller_gets_a_create_contact_card_that_links_the_call(center, client):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(ani="+8613911112222", dnis="95555")
    from guanxi.contactcenter.selectors import screen_pop

    card = screen_pop(ana, Call.objects.get(pk=call.pk))["customer"]
    assert card == {"known": False, "phone": "+8613911112222", "matches": 0,
                    "create_url": f"/contact-center/calls/{call.pk}/new-contact/", "title": "Unknown caller"}

    client.force_login(ana)
    page = client.get(card["create_url"])
    bad = client.post(card["create_url"], {"full_name": ""})
    created = client.post(card["create_url"], {"full_name": "Zhao Lei", "email": "zhao.lei@example.cn"})

    assert page.status_code == 200 and bad.status_code == 400
    contact = Contact.objects.get(full_name="Zhao Lei")
    assert created.status_code == 302 and created["Location"] == f"/contacts/{contact.pk}/360/"
    assert contact.phones.get().number == "+8613911112222"
    assert Call.objects.get(pk=call.pk).contact_id == contact.pk


@pytest.mark.django_db
def test_an_agent_who_may_not_see_the_customer_gets_no_details(center, admin_user, make_user):
    customer_with_history(admin_user)
    center.queue("billing", numbers=["95555"])
    from guanxi.contactcenter.models import AgentProfile
    from guanxi.contactcenter.selectors import screen_pop

    outsider = make_user("outsider", "sales_rep")
    services.agent_profile_create(actor=None, data={"user_id": outsider.pk, "skills": {"billing": 5}})
    services.agent_state_set(actor=None, agent_id=AgentProfile.objects.get(user=outsider).pk, state="available")
    call = center.call(ani="+8613800138000", dnis="95555")

    card = screen_pop(outsider, Call.objects.get(pk=call.pk))["customer"]

    assert card["known"] is False and "name" not in card and "account" not in card


# ======================================================================================
# Over the real WebSocket
# ======================================================================================
def browser_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"origin", b"http://testserver"), (b"host", b"testserver"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())]


@pytest.mark.django_db(transaction=True)
def test_the_desktop_socket_receives_the_screen_pop_within_a_second(center, admin_user):
    customer = customer_with_history(admin_user)
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    headers = browser_headers(ana)

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/contact-center/desktop/", headers=headers)
        connected, _code = await socket.connect()
        assert connected
        first = await socket.receive_json_from(timeout=2)
        started = asyncio.get_running_loop().time()
        await database_sync_to_async(center.call)(ani="+8613800138000", dnis="95555")
        pushed = await socket.receive_json_from(timeout=1)
        elapsed = asyncio.get_running_loop().time() - started
        await socket.disconnect()
        return first, pushed, elapsed

    first, pushed, elapsed = async_to_sync(scenario)()
    assert first == {"event": "contactcenter.calls", "payload": {"calls": []}}
    assert pushed["event"] == "contactcenter.offer"
    assert pushed["payload"]["customer"]["contact_id"] == customer.pk
    assert elapsed < 1.0


@pytest.mark.django_db(transaction=True)
def test_sockets_refuse_users_without_a_desktop_or_the_wallboard(center, make_user):
    rep = make_user("rep", "sales_rep")
    boss = make_user("boss", "supervisor")

    async def connect(headers, path):
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await socket.connect()
        first = await socket.receive_json_from(timeout=2) if connected else None
        await socket.disconnect()
        return connected, code, first

    rep_headers, boss_headers = browser_headers(rep), browser_headers(boss)
    desk = async_to_sync(connect)(rep_headers, "/ws/contact-center/desktop/")
    board_rep = async_to_sync(connect)(rep_headers, "/ws/contact-center/wallboard/")
    board_boss = async_to_sync(connect)(boss_headers, "/ws/contact-center/wallboard/")

    assert desk[:2] == (False, 4403) and board_rep[:2] == (False, 4403)
    assert board_boss[0] is True and board_boss[2]["event"] == "contactcenter.wallboard"
    assert "queues" in board_boss[2]["payload"]
