"""The caller's open cases on the contact center's screen pop (the customer glance)."""

import pytest

from guanxi.core.events import customer_glance_requested
from guanxi.core.models import Contact, Role
from guanxi.service import services

pytestmark = pytest.mark.django_db


def glance(contact, actor):
    return [section for _receiver, section in customer_glance_requested.send(
        sender=Contact, contact=contact, actor=actor) if section]


def test_open_cases_appear_newest_first_and_closed_ones_do_not(open_case, customer, agent, admin_user):
    first = open_case(subject="宽带无法连接")
    second = open_case(subject="Router keeps rebooting")
    done = open_case(subject="Old billing question")
    services.case_change_status(actor=agent, case_id=done.pk, status="resolved", note="Explained.")
    services.case_change_status(actor=agent, case_id=done.pk, status="closed")

    sections = glance(customer, agent)

    assert [section["key"] for section in sections] == ["open_cases"]
    items = sections[0]["items"]
    assert [item["label"] for item in items] == [f"{second.number} Router keeps rebooting",
                                                 f"{first.number} 宽带无法连接"]
    assert items[0]["url"] == f"/service/cases/{second.pk}/" and items[0]["detail"]


def test_a_customer_without_open_cases_adds_nothing(customer, agent):
    assert glance(customer, agent) == []


def test_an_agent_who_may_not_see_cases_gets_no_section(open_case, customer, make_user):
    open_case()
    outsider = make_user("partner-x", Role.PARTNER)
    assert glance(customer, outsider) == []
