"""Live notifications over the WebSocket at /ws/notifications/ (in-memory channel layer).

The browser of a 360° page subscribes to its contact; when an interaction with that
contact is committed, the page receives it at once. The subscription goes through the
same access check as the page: a socket never leaks a record. Pushes are sent on
commit, so these tests run with real transactions.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator  # needs daphne installed (channels.testing imports it)
from django.conf import settings
from django.test import Client

from guanxi.asgi import application
from guanxi.core import services as core_services
from guanxi.core.models import Role
from guanxi.interactions import services as interaction_services

pytestmark = pytest.mark.django_db(transaction=True)
SOCKET_PATH = "/ws/notifications/"


def browser_headers(user) -> list[tuple[bytes, bytes]]:
    """The headers a signed-in browser on this site sends when it opens the socket."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"origin", b"http://testserver"), (b"host", b"testserver"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())]


async def open_socket(headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, SOCKET_PATH, headers=headers)
    connected, _code = await communicator.connect()
    assert connected
    return communicator


def record_call(actor, contact, subject: str):
    return database_sync_to_async(interaction_services.interaction_record)(actor=actor, data={
        "contact_id": contact.pk, "channel": "phone", "direction": "in", "subject": subject, "duration_seconds": 65})


def test_a_subscribed_user_receives_the_interaction_when_it_commits(admin_user):
    # given a customer and an agent with that customer's 360° page open
    contact = core_services.contact_create(actor=admin_user, data={"full_name": "王芳"})
    headers = browser_headers(admin_user)

    async def scenario():
        socket = await open_socket(headers)
        await socket.send_json_to({"subscribe": "contact", "id": contact.pk})
        subscribed = await socket.receive_json_from(timeout=2)
        # when an interaction with the customer is recorded and committed
        interaction = await record_call(admin_user, contact, "Asked about the bill")
        pushed = await socket.receive_json_from(timeout=2)
        await socket.disconnect()
        await get_channel_layer().flush()
        return subscribed, interaction, pushed

    subscribed, interaction, pushed = async_to_sync(scenario)()
    # then the page is told at once, with what the timeline entry shows
    assert subscribed == {"subscribed": "contact", "id": contact.pk}
    assert pushed["event"] == "interaction.created"
    payload = pushed["payload"]
    assert (payload["id"], payload["contact_id"], payload["subject"]) == (interaction.pk, contact.pk,
                                                                          "Asked about the bill")
    assert (payload["channel_label"], payload["direction_label"], payload["duration_seconds"]) == (
        "Phone", "Inbound", 65)


def test_a_user_who_may_not_see_the_contact_is_refused_and_receives_nothing(make_user):
    # given two sales reps; the contact belongs to the owner
    owner, outsider = make_user("owner", Role.SALES_REP), make_user("outsider", Role.SALES_REP)
    contact = core_services.contact_create(actor=owner, data={"full_name": "李娜"})
    owner_headers, outsider_headers = browser_headers(owner), browser_headers(outsider)

    async def scenario():
        outsider_socket = await open_socket(outsider_headers)
        owner_socket = await open_socket(owner_headers)
        # when the outsider tries to subscribe to the owner's contact
        await outsider_socket.send_json_to({"subscribe": "contact", "id": contact.pk})
        refusal = await outsider_socket.receive_json_from(timeout=2)
        await owner_socket.send_json_to({"subscribe": "contact", "id": contact.pk})
        await owner_socket.receive_json_from(timeout=2)
        await record_call(owner, contact, "Private matter")
        owner_got = await owner_socket.receive_json_from(timeout=2)
        outsider_got_nothing = await outsider_socket.receive_nothing(timeout=0.3)
        await outsider_socket.disconnect()
        await owner_socket.disconnect()
        await get_channel_layer().flush()
        return refusal, owner_got, outsider_got_nothing

    refusal, owner_got, outsider_got_nothing = async_to_sync(scenario)()
    # then the subscription is refused, and the push reaches only the owner
    assert refusal == {"error": "forbidden", "subscribe": "contact", "id": contact.pk}
    assert owner_got["payload"]["subject"] == "Private matter"
    assert outsider_got_nothing


def test_a_socket_without_a_signed_in_user_is_closed():
    async def scenario():
        communicator = WebsocketCommunicator(application, SOCKET_PATH,
                                             headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert (connected, code) == (False, 4401)
