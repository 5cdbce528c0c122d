"""Reports e-mailed on a schedule: validation, the next run at 07:00, the sending job with the
file attached (run with the scheduler's visibility), never twice for one due time, and the
error kept when sending cannot work."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.analytics.models import ReportSchedule
from guanxi.analytics.services.reports import next_run, report_create, scheduled_reports_send_due
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import Role
from guanxi.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(warehouse_engine, admin_user):
    plan = history.product("PLAN", "Plan", family="plans")
    history.order(history.customer(admin_user, "王芳"), [(plan, 2, "50.00")], at="2025-03-01 10:00")
    warehouse_refresh(actor=None)
    return report_create(actor=admin_user, data={"name": "Weekly plans", "source": "order_lines", "definition": {
        "group_by": ["product_family"], "measures": [{"aggregate": "sum", "field": "revenue"}]}})


def local(year, month, day, hour=0, minute=0):
    return timezone.make_aware(datetime.datetime(year, month, day, hour, minute))


def test_the_next_run_is_at_seven_on_the_next_day_monday_or_first_of_the_month():
    wednesday = local(2025, 3, 5, 15, 30)
    assert next_run("daily", wednesday) == local(2025, 3, 6, 7)
    assert next_run("weekly", wednesday) == local(2025, 3, 10, 7)
    assert next_run("monthly", wednesday) == local(2025, 4, 1, 7)
    assert next_run("monthly", local(2025, 12, 31, 23)) == local(2026, 1, 1, 7)


def test_bad_schedules_are_refused(report, api_client):
    response = api_client.post(f"/api/v1/analytics/reports/{report.pk}/schedules",
                               {"frequency": "hourly", "export_format": "doc", "recipients": ["not-an-address"]},
                               content_type="application/json")
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"frequency", "export_format", "recipients"}
    empty = api_client.post(f"/api/v1/analytics/reports/{report.pk}/schedules", {"recipients": []},
                            content_type="application/json")
    assert empty.status_code == 422 and not ReportSchedule.objects.exists()


def test_a_due_schedule_emails_the_report_once(report, api_client, mailoutbox):
    # given a weekly Excel schedule
    response = api_client.post(f"/api/v1/analytics/reports/{report.pk}/schedules",
                               {"frequency": "weekly", "export_format": "xlsx",
                                "recipients": ["Boss@Example.cn", "team@example.cn"]},
                               content_type="application/json")
    assert response.status_code == 201
    schedule = ReportSchedule.objects.get()
    assert schedule.recipients == ["boss@example.cn", "team@example.cn"]
    assert timezone.localtime(schedule.next_run_at).hour == 7 and schedule.next_run_at > timezone.now()

    # when it falls due and the scheduler looks (twice)
    ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - datetime.timedelta(minutes=1))
    assert scheduled_reports_send_due() == 1
    assert scheduled_reports_send_due() == 0

    # then one e-mail went out with the workbook, and the next run is a week on
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["boss@example.cn", "team@example.cn"] and "Weekly plans" in message.subject
    name, content, content_type = message.attachments[0]
    assert name.endswith(".xlsx") and content_type.startswith("application/vnd.openxmlformats") and content
    schedule.refresh_from_db()
    assert schedule.last_error == "" and schedule.last_run_at is not None
    assert schedule.next_run_at > timezone.now() + datetime.timedelta(days=1)
    assert Job.objects.get(kind="analytics.send_scheduled_report").state == JobState.SUCCEEDED


def test_a_schedule_whose_owner_left_records_the_error_and_sends_nothing(report, admin_user, make_user, mailoutbox):
    analyst = make_user("analyst", Role.ANALYST)
    schedule = ReportSchedule.objects.create(report=report, frequency="daily", export_format="csv",
                                             recipients=["boss@example.cn"], created_by=analyst,
                                             next_run_at=timezone.now() - datetime.timedelta(minutes=1))
    analyst.is_active = False
    analyst.save(update_fields=["is_active"])

    scheduled_reports_send_due()

    schedule.refresh_from_db()
    assert mailoutbox == [] and "no longer has an account" in schedule.last_error
    assert schedule.next_run_at > timezone.now()
    assert Job.objects.get(kind="analytics.send_scheduled_report").state == JobState.FAILED


def test_schedules_on_the_report_page(report, admin_user, make_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(reverse("analytics:report_schedule_create", args=[report.pk]),
                           {"frequency": "monthly", "export_format": "pdf", "recipients": "a@example.cn, b@example.cn"})
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    page = client.get(reverse("analytics:report_detail", args=[report.pk])).content.decode()
    assert "a@example.cn, b@example.cn" in page
    bad = client.post(reverse("analytics:report_schedule_create", args=[report.pk]),
                      {"frequency": "monthly", "export_format": "pdf", "recipients": "nobody"}, follow=True)
    assert "is not an e-mail address" in bad.content.decode() and ReportSchedule.objects.count() == 1
    # a sales rep cannot schedule someone else's report (they cannot even see it)
    rep = Client()
    rep.force_login(make_user("rep", Role.SALES_REP))
    refused = rep.post(reverse("analytics:report_schedule_create", args=[report.pk]),
                       {"frequency": "daily", "export_format": "csv", "recipients": "x@example.cn"})
    assert refused.status_code == 404 and ReportSchedule.objects.count() == 1
    client.post(reverse("analytics:report_schedule_delete", args=[report.pk, schedule.pk]))
    assert not ReportSchedule.objects.exists()
