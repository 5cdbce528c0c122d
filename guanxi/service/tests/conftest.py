"""Builders for service tests: a frozen clock, a service desk (calendar, SLA policy, queue,
agents) and customers, all made through the services users go through."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FrozenClock:
    """``timezone.now()`` answers what this clock says until told to move."""

    def __init__(self, monkeypatch, start: dt.datetime):
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, *args) -> dt.datetime:
        self.now = dt.datetime(*args, tzinfo=SHANGHAI)
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    """Monday 2 March 2026, 10:00 in Shanghai."""
    return FrozenClock(monkeypatch, dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def office_hours(admin_user):
    from guanxi.service import services

    return services.calendar_create(actor=admin_user, data={
        "name": "Shanghai office", "time_zone": "Asia/Shanghai",
        "weekly_hours": {day: "09:00-12:00, 13:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "days": [{"date": dt.date(2026, 4, 6), "kind": "holiday", "name": "Qingming"}]})


@pytest.fixture
def standard_policy(admin_user, office_hours):
    """Any priority, any tier: first reply within 1 working hour, resolution within 8."""
    from guanxi.service import services

    return services.sla_policy_create(actor=admin_user, data={
        "name": "Standard", "calendar_id": office_hours.pk, "first_response_minutes": 60,
        "resolution_minutes": 480, "warning_percent": 75})


@pytest.fixture
def agent(make_user):
    return make_user("agent-li", Role.SERVICE_AGENT, display_name="李客服")


@pytest.fixture
def customer(admin_user):
    """A gold account with one contact who has an email address."""
    account = core_services.account_create(actor=admin_user, data={"name": "华信通信", "value_tier": "gold"})
    return core_services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "email": "wang.fang@example.cn", "phone": "138 1234 5678", "account_id": account.pk})


@pytest.fixture
def open_case(agent, customer, standard_policy, clock):
    """A normal-priority phone case opened by the agent at Monday 10:00."""
    from guanxi.service import services

    def factory(**data):
        values = {"subject": "宽带无法连接", "description": "Since this morning the broadband is down.",
                  "contact_id": customer.pk, "category": "network", **data}
        return services.case_open(actor=agent, data=values)

    return factory
