"""The contact center's web pages: who may open them, and what they show."""

from __future__ import annotations

import pytest

from guanxi.contactcenter import services

pytestmark = pytest.mark.django_db


def test_the_agent_desktop_shows_the_agent_and_their_calls(center, client):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    services.disposition_create(actor=None, data={"code": "resolved", "label": "Resolved"})
    call = center.call(dnis="95555")
    client.force_login(ana)

    page = client.get("/contact-center/")

    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="agent-state"' in body and 'data-state="ringing"' in body
    assert f'"call_id": {call.pk}' in body and '"label": "Resolved"' in body
    assert "/static/contactcenter/desktop.js" in body


def test_a_user_who_is_not_an_agent_is_told_how_to_become_one(client, make_user):
    client.force_login(make_user("rep", "sales_rep"))

    page = client.get("/contact-center/")

    assert page.status_code == 403 and "not set up as a contact-center agent" in page.content.decode()


def test_pages_refuse_roles_without_the_right(client, make_user):
    client.force_login(make_user("rep", "sales_rep"))

    assert client.get("/contact-center/wallboard/").status_code == 403
    assert client.get("/contact-center/ivr-menus/").status_code == 403
    assert client.get("/contact-center/simulator/").status_code == 403
    assert client.get("/contact-center/calls/").status_code == 403


def test_the_call_page_shows_what_happened(center, client, make_user):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    services.call_hangup(actor=ana, call_id=call.pk)
    client.force_login(make_user("boss", "supervisor"))

    page = client.get(f"/contact-center/calls/{call.pk}/")
    listing = client.get("/contact-center/calls/", {"state": "ended"})

    body = page.content.decode()
    assert page.status_code == 200 and "Answered" in body and "Completed" in body
    assert listing.status_code == 200 and f"/contact-center/calls/{call.pk}/" in listing.content.decode()


def test_an_agent_cannot_open_a_colleagues_call(center, client):
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    ben = center.agent("ben", available=False)
    call = center.call(dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    client.force_login(ben)

    assert client.get(f"/contact-center/calls/{call.pk}/").status_code == 404


def test_the_customers_360_page_lists_their_calls(center, client, admin_user):
    from guanxi.core.services import contact_create

    customer = contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13800138000"})
    center.queue("billing", numbers=["95555"])
    ana = center.agent("ana")
    call = center.call(ani="+8613800138000", dnis="95555")
    services.call_answer(actor=ana, call_id=call.pk)
    services.call_hangup(actor=ana, call_id=call.pk)
    client.force_login(admin_user)

    page = client.get(f"/contacts/{customer.pk}/360/")

    body = page.content.decode()
    assert 'id="panel-calls"' in body and f"/contact-center/calls/{call.pk}/" in body


def test_the_simulator_and_menu_editor_open_for_supervisors(center, client, make_user):
    client.force_login(make_user("boss", "supervisor"))

    simulator = client.get("/contact-center/simulator/")
    editor = client.get("/contact-center/ivr-menus/new/")

    assert simulator.status_code == 200 and 'id="dial-form"' in simulator.content.decode()
    assert editor.status_code == 200 and "type: menu" in editor.content.decode()
