"""The service dashboard and SLA report: backlog, age of open cases, SLA attainment,
first-contact resolution and the CSAT trend, over what the reader may see, in a fixed
number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import Role
from guanxi.service import reports, services
from guanxi.service.models import Survey

pytestmark = pytest.mark.django_db
API = "/api/v1/service/reports"


@pytest.fixture
def history(open_case, agent, clock):
    """Monday: three cases. One solved at once, one late, one still open and unassigned."""
    quick = open_case(subject="Quick", assignee_id=agent.pk)
    services.case_reply(actor=agent, case_id=quick.pk, body="Done", new_status="resolved")
    late = open_case(subject="Late", assignee_id=agent.pk)
    waiting = open_case(subject="Waiting", priority="urgent")
    clock.set(2026, 3, 4, 10, 0)  # two working days later
    services.case_reply(actor=agent, case_id=late.pk, body="Sorry for the wait")
    services.case_reply(actor=agent, case_id=late.pk, body="Fixed now", new_status="resolved")
    services.sla_sweep()
    services.survey_answer(token=Survey.objects.get(case=quick).token, csat_score=5, nps_score=10)
    services.survey_answer(token=Survey.objects.get(case=late).token, csat_score=2, nps_score=5)
    return quick, late, waiting


def test_dashboard_figures(api_client, history, clock):
    response = api_client.get(f"{API}/dashboard", {"days": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["backlog"]["total"] == 1 and body["backlog"]["unassigned"] == 1
    assert body["backlog"]["by_priority"]["urgent"] == 1 and body["backlog"]["breached"] == 1
    assert [bucket["count"] for bucket in body["age"]] == [0, 1, 0, 0, 0]  # opened two days ago
    assert body["sla"]["resolved"] == 2 and body["sla"]["resolution_met"] == 1
    assert body["sla"]["resolution_percent"] == 50.0 and body["sla"]["first_response_percent"] == 50.0
    assert body["first_contact_resolution"] == {"resolved": 2, "first_contact": 1, "percent": 50.0}
    assert sum(day["opened"] for day in body["flow"]) == 3 and sum(day["resolved"] for day in body["flow"]) == 2
    assert body["satisfaction"]["csat_average"] == 3.5
    assert [week["csat"] for week in body["csat_trend"]] == [3.5]


def test_dashboard_costs_a_fixed_number_of_queries(admin_user, history, open_case):
    """The dashboard is read on every visit of the service home page; its query count must
    not grow with the number of cases (each figure is one grouped query)."""
    with CaptureQueriesContext(connection) as first:
        reports.service_dashboard(admin_user, days=30)
    for index in range(5):
        open_case(subject=f"More {index}")
    with CaptureQueriesContext(connection) as second:
        reports.service_dashboard(admin_user, days=30)
    assert len(first) == len(second) <= 20


def test_sla_report_by_agent(api_client, history):
    response = api_client.get(f"{API}/sla", {"start": "2026-03-01", "end": "2026-03-31", "group_by": "agent"})
    assert response.status_code == 200
    rows = {row["group"]: row for row in response.json()["rows"]}
    assert rows["agent-li"]["resolved"] == 2 and rows["agent-li"]["resolution_met"] == 1
    assert rows[""]["breached_open"] == 1  # the unassigned open case


def test_reports_follow_what_the_reader_may_see(history, make_user, client_for, customer):
    rep = make_user("rep-no-customers", Role.SALES_REP)
    response = client_for(rep).get(f"{API}/dashboard")
    assert response.status_code == 403  # sales reps have no service reports
    manager = make_user("manager", Role.SALES_MANAGER)
    body = client_for(manager).get(f"{API}/dashboard").json()
    assert body["backlog"]["total"] == 0  # none of the cases belong to the manager's team
