"""The staffing calculator (page and API): agents needed for a goal with Erlang C, or
Erlang A with patience; the issue's known values; bad input refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
KNOWN = {"calls_per_hour": 100, "average_handle_time": 180, "target_seconds": 20, "service_level": 80}


def test_80_20_at_100_calls_an_hour_needs_8_agents(client, make_user):
    client.force_login(make_user("boss", "supervisor"))

    page = client.get("/contact-center/erlang/", KNOWN)

    body = page.content.decode()
    assert page.status_code == 200 and "8 agents needed" in body
    assert "88.0%" in body and "74.0%" in body and "47.4%" in body  # 8, 7 and 6 agents (Erlang C)


def test_patience_switches_to_erlang_a(client, make_user):
    client.force_login(make_user("boss", "supervisor"))

    page = client.get("/contact-center/erlang/", {**KNOWN, "average_patience": 120})

    body = page.content.decode()
    assert page.status_code == 200 and "erlang_a" in body and "P(abandon)" in body


def test_bad_input_is_refused_field_by_field(client, make_user):
    client.force_login(make_user("boss", "supervisor"))

    page = client.get("/contact-center/erlang/", {**KNOWN, "average_handle_time": -5, "service_level": 150})

    assert page.status_code == 400
    assert page.context["form"].errors.keys() == {"average_handle_time", "service_level"}


def test_the_api_gives_figures_for_a_staffing_or_the_staffing_for_a_goal(client_for, make_user):
    client = client_for(make_user("ana", "cc_agent"))

    seven = client.get("/api/v1/contact-center/erlang", {"calls_per_hour": 100, "average_handle_time": 180,
                                                         "target_seconds": 20, "agents": 7}).json()
    needed = client.get("/api/v1/contact-center/erlang", {"calls_per_hour": 100, "average_handle_time": 180,
                                                          "target_seconds": 20, "service_level": 0.8}).json()
    overloaded = client.get("/api/v1/contact-center/erlang", {"calls_per_hour": 100, "average_handle_time": 180,
                                                              "agents": 4})
    bad = client.get("/api/v1/contact-center/erlang", {"calls_per_hour": 0, "average_handle_time": 180})

    assert seven["service_level"] == pytest.approx(0.7404, abs=5e-5)
    assert seven["average_speed_of_answer"] == pytest.approx(29.17, abs=0.01)
    assert needed["agents"] == 8
    assert overloaded.status_code == 200 and overloaded.json()["average_speed_of_answer"] is None
    assert bad.status_code == 422
