"""Satisfaction surveys: sent by email when a case is resolved, answered once through the
signed link (web page and API), on the customer's timeline, and counted in the results
per customer, agent, product, channel and period."""

import re

import pytest
from django.core import mail
from django.test import Client

from guanxi.interactions.models import Interaction
from guanxi.service import reports, selectors, services
from guanxi.service.models import Survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(open_case, agent, clock):
    case = open_case(assignee_id=agent.pk, product="Fibre 500M")
    services.case_reply(actor=agent, case_id=case.pk, body="Fixed remotely.", new_status="resolved")
    return case


def _link() -> str:
    """The link in the survey email (the resolving reply was emailed too)."""
    found = [re.search(r"https?://\S+/service/survey/\S+/", message.body) for message in mail.outbox]
    return [match.group(0) for match in found if match][-1]


def test_resolving_a_case_emails_a_survey_link_in_the_customers_language(resolved, customer):
    survey = Survey.objects.get(case=resolved)
    assert (survey.recipient_email, survey.language, survey.kind) == ("wang.fang@example.cn", "zh-hans", "both")
    assert (survey.agent.username, survey.product, survey.channel) == ("agent-li", "Fibre 500M", "phone")
    assert survey.delivery_status == "sent"
    sent = [message for message in mail.outbox if "survey" in message.body]
    assert sent[-1].to == ["wang.fang@example.cn"] and resolved.number in sent[-1].subject
    assert sent[-1].extra_headers["Auto-Submitted"] == "auto-generated"  # no out-of-office answers it
    assert survey.token not in _link() or ":" in _link()  # the link carries a signed token


def test_the_customer_answers_on_the_public_page_once(resolved, customer, agent):
    link = _link().split("://", 1)[1].split("/", 1)[1]
    page = Client().get(f"/{link}")
    assert page.status_code == 200 and resolved.number in page.content.decode()
    answered = Client().post(f"/{link}", {"csat_score": "5", "nps_score": "9", "comment": "很快就修好了"})
    assert answered.status_code == 200
    survey = Survey.objects.get(case=resolved)
    assert (survey.csat_score, survey.nps_score, survey.comment) == (5, 9, "很快就修好了")
    interaction = Interaction.objects.get(source_type="service_survey", source_id=str(survey.pk))
    assert interaction.contact_id == customer.pk and interaction.channel == "web"
    again = Client().post(f"/{link}", {"csat_score": "1", "nps_score": "0"})
    assert again.status_code == 409
    survey.refresh_from_db()
    assert survey.csat_score == 5
    # and the customer's satisfaction score shows on their 360° page
    colleague = Client()
    colleague.force_login(agent)
    page = colleague.get(f"/contacts/{customer.pk}/360/").content.decode()
    assert "Satisfaction: CSAT 5" in page and "(1 survey)" in page


def test_bad_scores_and_tampered_links_are_refused(resolved):
    link = "/" + _link().split("://", 1)[1].split("/", 1)[1]
    bad = Client().post(link, {"csat_score": "7", "nps_score": "11"})
    assert bad.status_code == 400
    assert Survey.objects.get(case=resolved).answered_at is None
    tampered = Client().get(link[:-3] + "xx/")
    assert tampered.status_code == 404


def test_the_api_answers_with_the_signed_token_and_refuses_expired_links(resolved, clock):
    token = _link().rstrip("/").rsplit("/", 1)[1]
    clock.advance(days=30)
    expired = Client().post("/api/v1/service/surveys/answer", {"token": token, "csat_score": 4, "nps_score": 8},
                            content_type="application/json")
    assert expired.status_code == 409
    clock.advance(days=-29)
    ok = Client().post("/api/v1/service/surveys/answer", {"token": token, "csat_score": 4, "nps_score": 8},
                       content_type="application/json")
    assert ok.status_code == 200 and ok.json()["csat_score"] == 4


def test_a_reopened_and_resolved_again_case_keeps_one_survey(resolved, agent):
    services.case_change_status(actor=agent, case_id=resolved.pk, status="reopened")
    services.case_change_status(actor=agent, case_id=resolved.pk, status="resolved")
    assert Survey.objects.filter(case=resolved).count() == 1


def test_results_per_agent_product_channel_customer_and_period(resolved, open_case, agent, admin_user, customer,
                                                               clock):
    services.survey_answer(token=Survey.objects.get(case=resolved).token, csat_score=5, nps_score=10)
    other = open_case(subject="Slow", product="Fibre 100M", origin="email")
    services.case_change_status(actor=admin_user, case_id=other.pk, status="resolved")
    services.survey_answer(token=Survey.objects.get(case=other).token, csat_score=2, nps_score=3, comment="")
    period = reports.Period.last_days(7, clock.now)
    by_product = {row["group"]: row for row in reports.satisfaction_report(admin_user, period, "product")["rows"]}
    assert by_product["Fibre 500M"]["csat_average"] == 5 and by_product["Fibre 100M"]["csat_average"] == 2
    by_channel = {row["group"]: row["answers"] for row in reports.satisfaction_report(admin_user, period,
                                                                                    "channel")["rows"]}
    assert by_channel == {"Phone": 1, "Email": 1}
    total = reports.satisfaction_report(admin_user, period, "agent")["total"]
    assert (total["answers"], total["csat_average"], total["csat_percent"], total["nps"]) == (2, 3.5, 50.0, 0.0)
    by_month = reports.satisfaction_report(admin_user, period, "period", "month")["rows"]
    assert [row["group"] for row in by_month] == ["2026-03-01"]
    assert selectors.satisfaction_of_customer(contact_id=customer.pk)["csat_average"] == 3.5


def test_the_satisfaction_report_refuses_unknown_groupings(api_client):
    response = api_client.get("/api/v1/service/reports/satisfaction",
                              {"start": "2026-01-01", "end": "2026-01-31", "group_by": "weather"})
    assert response.status_code == 422
    backwards = api_client.get("/api/v1/service/reports/satisfaction", {"start": "2026-02-01", "end": "2026-01-01"})
    assert backwards.status_code == 422 and "end" in backwards.json()["errors"]
